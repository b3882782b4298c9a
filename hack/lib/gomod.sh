# shellcheck shell=bash
# Go module cache look-ups for the hack/ scripts. Source it; it defines functions only.

# module_dir DIR QUERY prints the module cache directory of QUERY (a module DIR's build requires, or
# MODULE@VERSION), downloading it if needed; it fails with a message when go names no directory.
module_dir() {
	local dir
	dir=$(cd "$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || { echo "go mod download $2 gave no directory" >&2; exit 1; }
	echo "$dir"
}
