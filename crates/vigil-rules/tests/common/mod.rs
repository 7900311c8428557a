//! Shared fixtures for the integration tests: an in-memory [`StateView`] and event builders.
#![allow(dead_code)]

use std::collections::HashMap;
use vigil_event::{Container, Process, StateView, UserInfo};

/// A tiny process table plus containers and users.
#[derive(Default)]
pub struct TestState {
    pub procs: HashMap<u32, Process>,
    pub containers: HashMap<String, Container>,
    pub users: HashMap<u32, UserInfo>,
    pub groups: HashMap<u32, String>,
}

impl StateView for TestState {
    fn process(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }
    fn container(&self, id: &str) -> Option<&Container> {
        self.containers.get(id)
    }
    fn user(&self, _p: &Process, uid: u32) -> Option<&UserInfo> {
        self.users.get(&uid)
    }
    fn group_name(&self, _p: &Process, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }
    fn hostname(&self) -> &str {
        "testhost"
    }
}

pub fn process(pid: u32, ppid: u32, comm: &str, exe: &str, args: &[&str]) -> Process {
    Process {
        pid,
        ppid,
        vpid: pid,
        sid: pid,
        pgid: pid,
        vpgid: pid,
        comm: comm.into(),
        exe: exe.into(),
        exepath: exe.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: "/root/".into(),
        loginuid: u32::MAX,
        start_ts: 1_000_000_000,
        ..Process::default()
    }
}

/// systemd(1) -> sshd(100) -> bash(200) -> cat(300, in container c1)
pub fn state() -> TestState {
    let mut s = TestState::default();
    s.procs
        .insert(1, process(1, 0, "systemd", "/sbin/init", &[]));
    s.procs
        .insert(100, process(100, 1, "sshd", "/usr/sbin/sshd", &["-D"]));
    let mut bash = process(200, 100, "bash", "/bin/bash", &["-i"]);
    bash.tty = 34816;
    s.procs.insert(200, bash);
    let mut cat = process(300, 200, "cat", "cat", &["/etc/shadow", "-n"]);
    cat.exepath = "/usr/bin/cat".into();
    cat.uid = 0;
    cat.gid = 0;
    cat.env = vec!["HOME=/root".into(), "LD_PRELOAD=/tmp/x.so".into()];
    cat.container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into();
    cat.cap_effective = (1 << 21) | (1 << 12);
    cat.stdio[0].kind = "pipe".into();
    cat.stdio[1].kind = "ipv4".into();
    cat.stdio[2].kind = "ipv4".into();
    cat.start_ts = 2_000_000_000;
    s.procs.insert(300, cat);
    let mut c = Container {
        id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        runtime: "podman".into(),
        name: "web".into(),
        image: "docker.io/library/nginx:1.25".into(),
        image_repository: "docker.io/library/nginx".into(),
        image_tag: "1.25".into(),
        privileged: true,
        start_ts: 1_500_000_000,
        ..Container::default()
    };
    c.mounts.push(vigil_event::Mount {
        source: "/var/run/docker.sock".into(),
        dest: "/var/run/docker.sock".into(),
        mode: "".into(),
        rw: true,
        propagation: "rprivate".into(),
    });
    c.k8s = Some(vigil_event::K8sInfo {
        pod_name: "web-0".into(),
        namespace: "prod".into(),
        pod_uid: "uid-1".into(),
        container_name: "nginx".into(),
        pod_labels: [("app".to_string(), "web".to_string())]
            .into_iter()
            .collect(),
    });
    s.containers.insert(c.id.clone(), c);
    s.users.insert(
        0,
        UserInfo {
            uid: 0,
            name: "root".into(),
            homedir: "/root".into(),
            shell: "/bin/bash".into(),
        },
    );
    s.groups.insert(0, "root".into());
    s
}
