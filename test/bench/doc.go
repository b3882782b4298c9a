// Command bench compares pkg/convert with `qemu-img convert -O raw` on a generated image in every
// format goldimage imports, printing the time ratio and peak RSS of each side.
//
//	bench run [-dir DIR] [-size 4G] [-data 1G] [-repeat 2]   # the whole comparison (make bench)
//	bench convert -src FILE -dst FILE                        # one conversion with pkg/convert
//
// Each conversion runs as its own process so its peak RSS (rusage) is comparable with qemu-img's.
package main
