//! vigil's eBPF sensor (being written).
