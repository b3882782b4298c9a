// Package tekton validates goldimage's Tekton tasks and pipelines (tasks/, pipelines/) with the types
// and validation of github.com/tektoncd/pipeline v1.0.0, and checks what Tekton cannot: task
// references, parameters and workspaces between pipelines and tasks, the EULA guard, cleanup in
// finally, commands that exist in cmd/, and the autounattend templates. It is a separate module so
// that Tekton's dependencies stay out of goldimage's go.mod.
package tekton
