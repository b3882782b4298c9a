// Package dataimportcron reconciles CDI DataImportCrons: it polls the source image's digest in-process on the
// cron's schedule (sharing identical polls through a cron.Poller), creates one DataVolume per new digest with
// the URL pinned to it (http(s) sources: conditional HEAD polls, one DataVolume per new validator, verified
// against the goldimage.io/checksum-url file when annotated), moves the managed DataSource once that import succeeded, garbage-collects old imports
// (handing the instancetype and architecture labels of the cron on to the DataSource) and reports CDI's UpToDate and Progressing conditions and the kubevirt_cdi_dataimportcron_outdated metric.
// The decisions themselves are pkg/cron's Decide; this package does the I/O around it.
package dataimportcron
