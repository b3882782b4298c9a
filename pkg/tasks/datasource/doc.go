// Package datasource points a CDI DataSource at a PVC, creating the DataSource when it is missing,
// for pipelines that publish a freshly installed golden disk to VMs that boot from the DataSource.
package datasource
