// Package rawtarget writes raw disk contents to their destination: a regular file made sparse
// (zero 4 KiB blocks become holes) or a block device (zero ranges zeroed only where the device is
// not already zero, or discarded), optionally through O_DIRECT. A Writer copies an image or
// buffers to a Target with parallel workers, skipping zero blocks and reporting progress.
package rawtarget
