//! vigil's eBPF object (placeholder while the programs are written).
#![no_std]
