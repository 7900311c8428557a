//! The cgroup unix socket hooks (`connect_unix`, `sendmsg_unix`, Linux 6.7+): a connect or
//! datagram to a denied socket path fails with EPERM before the kernel even looks the socket
//! up, so nothing reaches the peer. Where the kernel lacks them, the enforcer falls back to
//! killing the caller at `sys_exit(connect)` (the connection was made, nothing was sent) and
//! says so ([`crate::UnixEnforcement`]).
//!
//! aya 0.13 does not know these attach types: its object parser rejects a
//! `cgroup/connect_unix` section and its loader cannot set the expected attach type. So the
//! two programs sit in the object under a section aya accepts, aya creates every map, and
//! here the same object is parsed again with aya-obj, relocated (CO-RE against the kernel's
//! BTF, maps to the descriptors aya created, calls), and the two programs are loaded with the
//! right expected attach type through [`crate::sys`]. We rejected a second object file: the
//! programs must share the enforcer's maps, which the relocation against aya's descriptors
//! gives for free, and one object keeps one layout header.

use std::collections::{HashMap, HashSet};
use std::os::fd::{OwnedFd, RawFd};

use aya::Btf;

use crate::sys;

/// (program name in the object, kernel attach type, syscall it stands for).
pub const PROGRAMS: [(&str, u32); 2] = [
    ("vigil_resp_ucon", sys::BPF_CGROUP_UNIX_CONNECT),
    ("vigil_resp_usnd", sys::BPF_CGROUP_UNIX_SENDMSG),
];

/// Loads the unix hook programs from `object`, with map references resolved to `map_fds`
/// (name → descriptor of the map aya created). Returns (attach type, program) pairs.
pub fn load(
    object: &[u8],
    btf: &Btf,
    map_fds: &HashMap<String, RawFd>,
) -> Result<Vec<(u32, OwnedFd)>, String> {
    let mut obj = aya_obj::Object::parse(object).map_err(|e| format!("parsing the object: {e}"))?;
    obj.relocate_btf(btf)
        .map_err(|e| format!("CO-RE relocation: {e}"))?;
    let text_sections: HashSet<usize> = obj.functions.keys().map(|(s, _)| *s).collect();
    let maps = obj.maps.clone();
    let mut refs = Vec::new();
    for (name, map) in &maps {
        let fd = *map_fds
            .get(name)
            .ok_or_else(|| format!("map `{name}` was not created"))?;
        refs.push((name.as_str(), fd, map));
    }
    obj.relocate_maps(refs.into_iter(), &text_sections)
        .map_err(|e| format!("map relocation: {e}"))?;
    obj.relocate_calls(&text_sections)
        .map_err(|e| format!("call relocation: {e}"))?;
    obj.sanitize_functions(aya::features());
    let mut out = Vec::new();
    for (name, attach) in PROGRAMS {
        let prog = obj
            .programs
            .get(name)
            .ok_or_else(|| format!("program {name} missing from the object"))?;
        let license = prog.license.to_string_lossy().into_owned();
        let f = obj
            .functions
            .get(&prog.function_key())
            .ok_or_else(|| format!("program {name}: no function"))?;
        let insns: Vec<u64> = f
            .instructions
            .iter()
            // SAFETY: bpf_insn is an 8-byte #[repr(C)] struct of plain integers; its bytes
            // are the instruction encoding the kernel expects.
            .map(|i| unsafe { std::mem::transmute_copy::<_, u64>(i) })
            .collect();
        let fd = sys::prog_load(
            sys::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            attach,
            name,
            &insns,
            &license,
        )
        .map_err(|e| {
            let tail: String = {
                let lines: Vec<&str> = e.log.lines().collect();
                lines[lines.len().saturating_sub(8)..].join("\n")
            };
            if e.error.raw_os_error() == Some(libc::EINVAL) && e.log.is_empty() {
                format!(
                    "loading {name}: {} (the kernel does not know the cgroup unix socket attach types: Linux 6.7+)",
                    e.error
                )
            } else {
                format!("loading {name}: {}\n{tail}", e.error)
            }
        })?;
        out.push((attach, fd));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn instruction_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<aya_obj::generated::bpf_insn>(), 8);
    }

    #[test]
    fn object_has_the_unix_programs_and_parses_without_kernel() {
        let obj = aya_obj::Object::parse(crate::kernel::OBJECT).unwrap();
        for (name, _) in super::PROGRAMS {
            assert!(obj.programs.contains_key(name), "{name}");
        }
    }
}
