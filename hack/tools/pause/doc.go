// Command pause is the e2e cluster's pod sandbox process: it sleeps until SIGINT or SIGTERM and reaps
// orphaned children meanwhile, like Kubernetes' pause image.
package main
