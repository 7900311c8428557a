//! Container names learned from the runtime's own processes, before (or without) a lookup.
//!
//! A container that fails at once (an entrypoint that does not exist, `exit 3`) and was run
//! with `--rm` is gone before its metadata lookup reaches the runtime: the lookup finds
//! nothing and the container would stay nameless. The runtime told us the name anyway: Podman
//! and CRI-O start one `conmon` monitor per container, and its command line carries the
//! container id (`-c`/`--cid`) and name (`-n`/`--name`). The sensor sees that exec before the
//! container's first process, so the name is known when the container is.
//!
//! Pure parsing here; [`crate::ContainerCache::hint`] keeps the result.

/// The (container id, container name) a `conmon` command line names, if both are there and
/// the id looks like a runtime's container id (64 lowercase hex digits).
///
/// Accepts `-c ID`, `--cid ID`, `--cid=ID` (and likewise `-n`/`--name`); the last occurrence
/// wins, as in conmon's own option parser.
pub fn conmon_names(args: &[String]) -> Option<(String, String)> {
    let mut id: Option<&str> = None;
    let mut name: Option<&str> = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let (slot, inline) = match a.as_str() {
            "-c" | "--cid" => (&mut id, None),
            "-n" | "--name" => (&mut name, None),
            s => {
                if let Some(v) = s.strip_prefix("--cid=") {
                    (&mut id, Some(v))
                } else if let Some(v) = s.strip_prefix("--name=") {
                    (&mut name, Some(v))
                } else {
                    continue;
                }
            }
        };
        let value = match inline {
            Some(v) => v,
            None => match it.next() {
                Some(v) => v.as_str(),
                None => break,
            },
        };
        *slot = Some(value);
    }
    let id = id?;
    let name = name?;
    if !crate::cgroup::is_container_id(id)
        || name.is_empty()
        || name.len() > 253
        || name.contains(['\0', '\n'])
    {
        return None;
    }
    Some((id.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    const ID: &str = "991d7d8e43685e9f746abf87025637b006380e9c40ad3f51bc142a0fb477efe4";

    #[test]
    fn podman_command_line() {
        let a = argv(&format!(
            "/usr/bin/conmon --api-version 1 -c {ID} -u {ID} -r /usr/bin/runc -b /var/lib/containers/storage/overlay-containers/{ID}/userdata -n web-1 --exit-dir /run/libpod/exits"
        ));
        assert_eq!(conmon_names(&a), Some((ID.into(), "web-1".into())));
    }

    #[test]
    fn long_and_inline_forms() {
        let a = argv(&format!("conmon --cid={ID} --name k8s_app_pod_ns_uid_0"));
        assert_eq!(
            conmon_names(&a),
            Some((ID.into(), "k8s_app_pod_ns_uid_0".into()))
        );
        let a = argv(&format!("conmon --name=db --cid {ID}"));
        assert_eq!(conmon_names(&a), Some((ID.into(), "db".into())));
    }

    #[test]
    fn incomplete_or_implausible_lines_give_nothing() {
        for line in [
            "conmon -n web".to_string(),
            format!("conmon -c {ID}"),
            format!("conmon -c {ID} -n"),
            "conmon -c abc -n web".to_string(),
            format!("conmon -c {} -n web", ID.to_uppercase()),
            format!("conmon -c {ID} -n="),
            format!("conmon -c {ID} --name="),
        ] {
            assert_eq!(conmon_names(&argv(&line)), None, "{line}");
        }
        // The program name itself is not an option.
        assert_eq!(conmon_names(&argv("-c")), None);
        assert_eq!(conmon_names(&[]), None);
    }
}
