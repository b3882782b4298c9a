package cdiconst

// Labels and annotations shared with CDI.
const (
	LabelDataImportCron      = "cdi.kubevirt.io/dataImportCron"                     // on DataVolumes and DataSources: the owning cron's name
	AnnSourceDesiredDigest   = "cdi.kubevirt.io/storage.import.sourceDesiredDigest" // on a cron: the newest digest polled
	AnnLastCronTime          = "cdi.kubevirt.io/storage.import.lastCronTime"        // on a cron: CDI's trigger; a changed value forces a poll
	AnnImmediateBinding      = "cdi.kubevirt.io/storage.bind.immediate.requested"   // on a DataVolume: bind its PVC without a consumer
	AnnDataImportCronCleanup = "cdi.kubevirt.io/dataImportCronCleanup"              // reserved by CDI; not written by goldimage
	FinalizerDataImportCron  = "cdi.kubevirt.io/dataImportCronFinalizer"            // on a cron: cleans up per retentionPolicy
	LabelDataSourceName      = "cdi.kubevirt.io/storage.import.datasource-name"     // on a per-architecture cron (SSP): the architecture-agnostic DataSource name
)

// Labels a DataImportCron hands on to its DataSource (as SSP and CDI do), so VMs created from the DataSource get
// the image's defaults and land on a node of its architecture.
const (
	LabelDefaultInstancetype     = "instancetype.kubevirt.io/default-instancetype"
	LabelDefaultPreference       = "instancetype.kubevirt.io/default-preference"
	LabelDefaultInstancetypeKind = "instancetype.kubevirt.io/default-instancetype-kind"
	LabelDefaultPreferenceKind   = "instancetype.kubevirt.io/default-preference-kind"
	LabelArchitecture            = "template.kubevirt.io/architecture"
	AnnDictArchitectures         = "ssp.kubevirt.io/dict.architectures" // on an SSP DataImportCronTemplate: the architectures to make a cron for each
)

// goldimage's own annotations.
const (
	AnnImportTime       = "goldimage.io/import-time"         // on a DataVolume: RFC 3339 time its import succeeded; GC orders by it
	AnnReconcileRequest = "goldimage.io/reconcile-requested" // on a cron: a changed value forces a poll and retries a failed import
	AnnHandledRequest   = "goldimage.io/reconcile-handled"   // on a cron: the last trigger value acted on (reconcile or CDI trigger)
	AnnDigest           = "goldimage.io/digest"              // on a DataVolume created by a cron: the digest (or http version) it imports
	AnnChecksum         = "goldimage.io/checksum"            // on a DataVolume: "sha256:<hex>" the source bytes must have (IMPORTER_CHECKSUM)
)

// goldimage's annotations of http(s) DataImportCrons.
const (
	AnnChecksumURL        = "goldimage.io/checksum-url"         // on a cron: SHA256SUMS file listing the source file; verified before the DataSource moves
	AnnSourceETag         = "goldimage.io/source-etag"          // on a cron: ETag of the newest http version polled
	AnnSourceLastModified = "goldimage.io/source-last-modified" // on a cron: Last-Modified of the newest http version polled
	AnnSourceChecksum     = "goldimage.io/source-checksum"      // on a cron: "sha256:<hex>" the checksum file lists for the newest http version
)

// Clone annotations, labels and finalizer (goldimage's own).
const (
	AnnCloneServiceAccount = "goldimage.io/clone-service-account"  // on a DataVolume: service account of its namespace whose permission a cross-namespace clone uses (default "default")
	AnnCloneTarget         = "goldimage.io/clone-target"           // on clone source pods and Secrets: "namespace/name" of the DataVolume they serve
	AnnCloneSourceNS       = "goldimage.io/clone-source-namespace" // on a cloning DataVolume: where its source pod and Secret live
	LabelCloneOf           = "goldimage.io/clone-of"               // on clone source pods and Secrets: UID of the DataVolume they serve
	FinalizerCloneCleanup  = "goldimage.io/clone-cleanup"          // on a cloning DataVolume: deletes the source pod and Secrets in the source namespace
)

// DataImportCron condition reasons (CDI's names where CDI has one).
const (
	ReasonNoImport          = "NoImport"          // Progressing False: nothing being imported
	ReasonImportScheduled   = "ImportScheduled"   // Progressing False: the import pod is waiting to run
	ReasonImportProgressing = "ImportProgressing" // Progressing True: the import pod is running
	ReasonUpToDate          = "UpToDate"          // UpToDate True: the newest digest is imported
	ReasonOutdated          = "Outdated"          // UpToDate False: the newest digest is not imported (yet)
	ReasonImportFailed      = "ImportFailed"      // Progressing False: the import of the newest digest failed
	ReasonInvalidSpec       = "InvalidSpec"       // UpToDate False: the spec cannot work; fixed only by editing it (no retry)
	ReasonPollFailed        = "PollFailed"        // UpToDate False: the registry could not be asked for the digest (retried)
	ReasonDataSourceManaged = "ErrDataSourceAlreadyManaged"
	ReasonNoValidator       = "NoValidator"       // UpToDate False: the http server sends neither ETag nor Last-Modified (polled again on schedule)
	ReasonUnstableValidator = "UnstableValidator" // UpToDate False: the http server's validator changes on every request (polled again on schedule)
)

// DataVolume and DataSource condition reasons (CDI's names).
const (
	ReasonBound            = "Bound"             // Bound True: the PVC is bound
	ReasonPending          = "Pending"           // Bound or Running False: waiting
	ReasonClaimLost        = "ClaimLost"         // Bound False: the PVC lost its volume
	ReasonPodRunning       = "Pod is running"    // Running True (CDI's literal reason)
	ReasonCompleted        = "Completed"         // Running False: the import finished
	ReasonError            = "Error"             // Running False: the import failed
	ReasonUnsupported      = "UnsupportedSource" // Ready False: a source goldimage does not import
	ReasonDataSourceReady  = "Ready"             // DataSource Ready True
	ReasonNoSource         = "NoSource"          // DataSource Ready False: no source set
	ReasonNotFound         = "NotFound"          // DataSource Ready False: the source PVC does not exist
	ReasonSourceInProgress = "ImportInProgress"  // DataSource Ready False: the source DataVolume is still importing
	ReasonSnapshotNotReady = "SnapshotNotReady"  // DataSource Ready False: the source VolumeSnapshot is not ready to use
	ReasonSnapshotFailed   = "SnapshotFailed"    // DataSource Ready False: the snapshotter reports an error for the source VolumeSnapshot

	ReasonMaxReferenceDepth = "MaxReferenceDepthReached" // DataSource Ready False: spec.source.dataSource names a DataSource that is itself a reference
	ReasonSelfReference     = "SelfReference"            // DataSource Ready False: spec.source.dataSource names the DataSource itself
	ReasonCrossNamespaceRef = "CrossNamespaceReference"  // DataSource Ready False: spec.source.dataSource names a DataSource of another namespace
)

// Clone condition reasons (CDI's names where CDI has one).
const (
	ReasonCloneWithoutSource = "CloneWithoutSource"   // Ready False: the source PVC does not exist (yet)
	ReasonSourceNotReady     = "CloneSourceNotReady"  // Ready False: the DataSource or the source's DataVolume is not ready
	ReasonCloneUnauthorized  = "CloneUnauthorized"    // Failed: the requester may not create datavolumes/source in the source namespace
	ReasonCloneTooSmall      = "CloneTargetTooSmall"  // Failed: the target is smaller than the source
	ReasonCloneScheduled     = "CloneScheduled"       // Running False: clone pods are waiting to run
	ReasonCSIClone           = "CSICloneInProgress"   // Running True: the CSI driver is cloning
	ReasonWaitForConsumer    = "WaitForFirstConsumer" // Running False: the PVC binds on first use and has no consumer yet
)

// Event reasons.
const (
	EventImportCreated    = "ImportCreated"   // a cron created a DataVolume for a new digest
	EventImportSucceeded  = "ImportSucceeded" // a DataVolume finished importing
	EventImportFailed     = "ImportFailed"    // an import failed; the message names the cause
	EventCloneSucceeded   = "CloneSucceeded"  // a DataVolume finished cloning its source
	EventCloneFailed      = "CloneFailed"     // a clone failed; the message names the cause
	EventDataSourceMoved  = "DataSourceUpdated"
	EventSnapshotCreated  = "SnapshotCreated" // on a DataImportCron: a VolumeSnapshot of an imported PVC is being taken
	EventGarbageCollected = "ImportDeleted"
	EventPollFailed       = "PollFailed"
	EventInvalidSpec      = "InvalidSpec"
	EventForeignSource    = ReasonDataSourceManaged
	EventImporterRestart  = "ImporterRestarted"
)

// Metric names.
const (
	MetricCronOutdated = "kubevirt_cdi_dataimportcron_outdated" // gauge per cron: 1 while its newest digest is not imported
)

// Names of things the controllers create.
const (
	ImporterPodPrefix   = "importer-" // importer pod name: prefix + DataVolume name (as CDI)
	ImporterContainer   = "importer"
	CloneSourcePrefix   = "clone-source-"   // clone source pod and Secret name: prefix + DataVolume UID
	CloneTargetPrefix   = "clone-target-"   // Secret with the clone certificate and token for the importer: prefix + DataVolume UID
	RestoreSourcePrefix = "restore-source-" // PVC restored from a VolumeSnapshot beside it for a host-assisted copy: prefix + DataVolume UID
	CloneContainer      = "clone-source"
	DefaultImportsKeep  = 3 // importsToKeep when the cron leaves it unset (as CDI)
	DigestNameLength    = 12
)
