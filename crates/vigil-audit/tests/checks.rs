//! Fixture tests: every check in the catalogue has at least one failing and one passing
//! example (enforced by `every_check_has_fixtures`), across the input formats.

use vigil_audit::checks::CHECKS;
use vigil_audit::{audit_bytes, Hint, Options};

/// A Pod with pod-level YAML `pod` (indented 2) and container YAML `ctr` (indented 4).
fn pod(pod: &str, ctr: &str) -> String {
    let ind = |s: &str, n: usize| {
        s.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect::<String>()
    };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\nspec:\n{}  containers:\n  - name: c\n    image: registry.example/app:1.0\n{}",
        ind(pod, 2),
        ind(ctr, 4)
    )
}

fn compose(svc: &str) -> String {
    let body: String = svc.lines().map(|l| format!("    {l}\n")).collect();
    format!("services:\n  s:\n    image: registry.example/app:1.0\n{body}")
}

fn inspect(host_config: &str, config: &str) -> String {
    format!(
        r#"[{{"Id":"abc","Name":"/t","HostConfig":{{{host_config}}},"Config":{{"Image":"app:1","User":"","Env":[]{config}}}}}]"#
    )
}

fn oci(linux_extra: &str, process_extra: &str) -> String {
    format!(
        r#"{{"ociVersion":"1.0.2","process":{{"user":{{"uid":1000,"gid":1000}},"args":["/x"]{process_extra}}},"root":{{"path":"rootfs","readonly":true}},"linux":{{"namespaces":[{{"type":"pid"}},{{"type":"network"}},{{"type":"ipc"}},{{"type":"uts"}},{{"type":"mount"}}],"seccomp":{{"defaultAction":"SCMP_ACT_ERRNO"}},"maskedPaths":["/proc/kcore"]{linux_extra}}}}}"#
    )
}

#[derive(Clone, Copy)]
enum Kind {
    Yaml,
    Docker,
}

struct Case {
    id: &'static str,
    kind: Kind,
    fail: String,
    pass: String,
}

fn y(id: &'static str, fail: String, pass: String) -> Case {
    Case {
        id,
        kind: Kind::Yaml,
        fail,
        pass,
    }
}

fn d(id: &'static str, fail: &str, pass: &str) -> Case {
    Case {
        id,
        kind: Kind::Docker,
        fail: fail.into(),
        pass: pass.into(),
    }
}

fn ids(text: &str, kind: Kind) -> Vec<&'static str> {
    let (name, hint) = match kind {
        Kind::Yaml => ("t.yaml", Hint::Structured),
        Kind::Docker => ("Dockerfile", Hint::Dockerfile),
    };
    let r = audit_bytes(name, text.as_bytes(), hint, true, &Options::default());
    assert!(
        r.errors.is_empty(),
        "fixture did not load: {:?}\n{text}",
        r.errors
    );
    assert!(!r.workloads.is_empty(), "no workload in fixture:\n{text}");
    r.findings.iter().map(|f| f.check).collect()
}

fn cases() -> Vec<Case> {
    let sc = |s: &str| {
        format!(
            "securityContext:\n{}",
            s.lines().map(|l| format!("  {l}\n")).collect::<String>()
        )
    };
    vec![
        y("VGL-A001", pod("", &sc("privileged: true")), pod("", &sc("privileged: false"))),
        y("VGL-A001", compose("privileged: true"), compose("privileged: false")),
        y("VGL-A001", inspect(r#""Privileged":true"#, ""), inspect(r#""Privileged":false"#, "")),
        y("VGL-A002", pod("", &sc("capabilities:\n  add: [SYS_ADMIN]")), pod("", &sc("capabilities:\n  add: [NET_BIND_SERVICE]"))),
        y("VGL-A002", compose("cap_add: [CAP_SYS_PTRACE]"), compose("cap_add: [CHOWN]")),
        y("VGL-A002", inspect(r#""CapAdd":["NET_ADMIN"]"#, ""), inspect(r#""CapAdd":null"#, "")),
        y("VGL-A002", oci("", r#","capabilities":{"bounding":["CAP_SYS_ADMIN"]}"#), oci("", r#","capabilities":{"bounding":["CAP_CHOWN"]}"#)),
        y("VGL-A003", pod("", &sc("capabilities:\n  add: [SYS_NICE]")), pod("", &sc("capabilities:\n  add: [CHOWN]"))),
        y("VGL-A004", pod("", &sc("capabilities:\n  drop: [NET_RAW]")), pod("", &sc("capabilities:\n  drop: [ALL]"))),
        y("VGL-A004", inspect(r#""CapDrop":null"#, ""), inspect(r#""CapDrop":["ALL"]"#, "")),
        y("VGL-A005", pod("", ""), pod("securityContext:\n  runAsNonRoot: true", "")),
        y("VGL-A005", pod("", &sc("runAsNonRoot: false")), pod("", &sc("runAsUser: 1000"))),
        y("VGL-A005", compose(""), compose("user: \"1000\"")),
        y("VGL-A005", inspect("", ""), inspect("", r#","User":"app""#)),
        y("VGL-A006", pod("", &sc("runAsUser: 0")), pod("", &sc("runAsUser: 1000"))),
        y("VGL-A006", pod("securityContext:\n  runAsUser: 0", ""), pod("securityContext:\n  runAsUser: 0", &sc("runAsUser: 1000"))),
        y("VGL-A006", compose("user: root"), compose("user: \"1000:1000\"")),
        y("VGL-A006", inspect("", r#","User":"0:0""#), inspect("", r#","User":"1000:0""#)),
        y("VGL-A006", oci("", r#","user":{"uid":0,"gid":0}"#), oci("", "")),
        y("VGL-A007", pod("", ""), pod("", &sc("allowPrivilegeEscalation: false"))),
        y("VGL-A007", compose("security_opt: [seccomp:unconfined]"), compose("security_opt: [\"no-new-privileges:true\"]")),
        y("VGL-A007", inspect(r#""SecurityOpt":["no-new-privileges=false"]"#, ""), inspect(r#""SecurityOpt":["no-new-privileges"]"#, "")),
        y("VGL-A007", oci("", r#","noNewPrivileges":false"#), oci("", r#","noNewPrivileges":true"#)),
        y("VGL-A008", pod("", ""), pod("", &sc("readOnlyRootFilesystem: true"))),
        y("VGL-A008", compose("read_only: false"), compose("read_only: true")),
        y("VGL-A008", inspect(r#""ReadonlyRootfs":false"#, ""), inspect(r#""ReadonlyRootfs":true"#, "")),
        y("VGL-A009", pod("", "resources:\n  limits:\n    cpu: 1"), pod("", "resources:\n  limits:\n    memory: 64Mi")),
        y("VGL-A009", compose(""), compose("deploy:\n  resources:\n    limits:\n      memory: 64m")),
        y("VGL-A009", inspect(r#""Memory":0"#, ""), inspect(r#""Memory":67108864"#, "")),
        y("VGL-A010", pod("", "resources:\n  limits:\n    memory: 64Mi"), pod("", "resources:\n  limits:\n    cpu: 500m")),
        y("VGL-A010", compose(""), compose("cpus: 0.5")),
        y("VGL-A010", inspect(r#""NanoCpus":0"#, ""), inspect(r#""NanoCpus":500000000"#, "")),
        y("VGL-A011", compose(""), compose("pids_limit: 100")),
        y("VGL-A011", inspect(r#""PidsLimit":0"#, ""), inspect(r#""PidsLimit":100"#, "")),
        y("VGL-A011", oci("", ""), oci(r#","resources":{"pids":{"limit":100}}"#, "")),
        y("VGL-A012", pod("hostPID: true", ""), pod("hostPID: false", "")),
        y("VGL-A012", compose("pid: host"), compose("")),
        y("VGL-A012", inspect(r#""PidMode":"host""#, ""), inspect(r#""PidMode":"""#, "")),
        y("VGL-A012", oci(r#","x":1"#, "").replace(r#"{"type":"pid"},"#, ""), oci("", "")),
        y("VGL-A013", pod("hostIPC: true", ""), pod("hostIPC: false", "")),
        y("VGL-A013", inspect(r#""IpcMode":"host""#, ""), inspect(r#""IpcMode":"private""#, "")),
        y("VGL-A014", pod("hostNetwork: true", ""), pod("", "")),
        y("VGL-A014", compose("network_mode: host"), compose("network_mode: none")),
        y("VGL-A015", compose("uts: host"), compose("")),
        y("VGL-A015", inspect(r#""UTSMode":"host""#, ""), inspect(r#""UTSMode":"""#, "")),
        y("VGL-A016", pod("", ""), pod("hostUsers: false", "")),
        y("VGL-A016", compose("userns_mode: host"), compose("userns_mode: auto")),
        y("VGL-A016", inspect(r#""UsernsMode":"""#, ""), inspect(r#""UsernsMode":"keep-id""#, "")),
        y("VGL-A017", pod("volumes:\n- name: v\n  hostPath: {path: /etc}", ""), pod("volumes:\n- name: v\n  hostPath: {path: /srv/data}", "")),
        y("VGL-A017", compose("volumes: [\"/:/host:ro\"]"), compose("volumes: [\"./data:/data:ro\"]")),
        y("VGL-A017", inspect(r#""Binds":["/proc:/host/proc"]"#, ""), inspect(r#""Binds":["/srv/x:/x"]"#, "")),
        y("VGL-A018", pod("volumes:\n- name: v\n  hostPath: {path: /var/run/docker.sock}", ""), pod("volumes:\n- name: v\n  hostPath: {path: /var/run/app}", "")),
        y("VGL-A018", compose("volumes: [\"/run/containerd/containerd.sock:/c.sock\"]"), compose("volumes: [\"data:/data\"]")),
        y("VGL-A019", compose("volumes: [\"/srv/data:/data\"]"), compose("volumes: [\"/srv/data:/data:ro\"]")),
        y("VGL-A019", pod("volumes:\n- name: v\n  hostPath: {path: /srv}", "volumeMounts:\n- {name: v, mountPath: /srv}"), pod("volumes:\n- name: v\n  hostPath: {path: /srv}", "volumeMounts:\n- {name: v, mountPath: /srv, readOnly: true}")),
        y("VGL-A020", pod("volumes:\n- name: v\n  hostPath: {path: /srv}", ""), pod("volumes:\n- name: v\n  emptyDir: {}", "")),
        y("VGL-A021", pod("", &sc("seccompProfile: {type: Unconfined}")), pod("", &sc("seccompProfile: {type: RuntimeDefault}"))),
        y("VGL-A021", compose("security_opt: [\"seccomp=unconfined\"]"), compose("security_opt: [\"seccomp=/etc/seccomp.json\"]")),
        y("VGL-A021", oci(r#","x":1"#, "").replace(r#""seccomp":{"defaultAction":"SCMP_ACT_ERRNO"},"#, ""), oci("", "")),
        y("VGL-A022", pod("", ""), pod("securityContext:\n  seccompProfile: {type: RuntimeDefault}", "")),
        y("VGL-A023", pod("", &sc("appArmorProfile: {type: Unconfined}")), pod("", &sc("appArmorProfile: {type: RuntimeDefault}"))),
        y("VGL-A023", inspect(r#""SecurityOpt":["apparmor:unconfined"]"#, ""), inspect(r#""SecurityOpt":["apparmor=docker-default"]"#, "")),
        y("VGL-A024", pod("", &sc("seLinuxOptions: {type: spc_t}")), pod("", &sc("seLinuxOptions: {type: container_t, level: \"s0:c1,c2\"}"))),
        y("VGL-A024", pod("", &sc("seLinuxOptions: {user: system_u}")), pod("", "")),
        y("VGL-A024", inspect(r#""SecurityOpt":["label=disable"]"#, ""), inspect(r#""SecurityOpt":["label=level:s0:c1"]"#, "")),
        y("VGL-A025", pod("", "ports:\n- {containerPort: 80, hostPort: 8080}"), pod("", "ports:\n- {containerPort: 80}")),
        y("VGL-A026", compose("ports: [\"80:8080\"]"), compose("ports: [\"8080:8080\"]")),
        y("VGL-A026", pod("", "ports:\n- {containerPort: 80, hostPort: 443}"), pod("", "ports:\n- {containerPort: 443}")),
        y("VGL-A027", pod("", "ports:\n- {containerPort: 22}"), pod("", "ports:\n- {containerPort: 2222}")),
        y("VGL-A027", inspect("", r#","ExposedPorts":{"22/tcp":{}}"#), inspect("", r#","ExposedPorts":{"80/tcp":{}}"#)),
        y("VGL-A028", compose("network_mode: bridge"), compose("networks: [backend]")),
        y("VGL-A028", inspect(r#""NetworkMode":"default""#, ""), inspect(r#""NetworkMode":"backend""#, "")),
        y("VGL-A029", pod("", "env:\n- {name: KEY, value: AKIAIOSFODNN7EXAMPLE}"), pod("", "env:\n- {name: KEY, value: some-value}")),
        y("VGL-A029", compose("environment:\n  GH: ghp_abcdefghijklmnopqrstuvwxyz0123456789"), compose("environment:\n  GH: ${GH_TOKEN}")),
        y("VGL-A029", inspect("", r#","Env":["DB=postgres://u:pw12345@db/x"]"#), inspect("", r#","Env":["DB=postgres://db/x"]"#)),
        y("VGL-A029", pod("", "env:\n- {name: NOTIFY, value: 'https://hooks.slack.com/services/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'}"), pod("", "env:\n- {name: NOTIFY, value: 'https://hooks.slack.com/'}")),
        y("VGL-A030", pod("", "env:\n- {name: DB_PASSWORD, value: hunter2}"), pod("", "env:\n- name: DB_PASSWORD\n  valueFrom: {secretKeyRef: {name: db, key: pw}}")),
        y("VGL-A030", compose("environment: [\"API_TOKEN=letmein\"]"), compose("environment: [\"API_TOKEN_FILE=/run/secrets/t\"]")),
        y("VGL-A031", pod("", "").replace("app:1.0", "app:latest"), pod("", "")),
        y("VGL-A031", compose("").replace("app:1.0", "app"), compose("")),
        y("VGL-A032", pod("", ""), pod("", "").replace("app:1.0", "app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")),
        y("VGL-A033", pod("", ""), pod("automountServiceAccountToken: false", "")),
        y("VGL-A034", pod("securityContext:\n  sysctls:\n  - {name: net.core.somaxconn, value: \"1024\"}", ""), pod("securityContext:\n  sysctls:\n  - {name: kernel.shm_rmid_forced, value: \"1\"}", "")),
        y("VGL-A034", compose("sysctls:\n  kernel.msgmax: 65536"), compose("sysctls:\n  net.ipv4.tcp_syncookies: 1")),
        y("VGL-A035", pod("", &sc("procMount: Unmasked")), pod("", &sc("procMount: Default"))),
        y("VGL-A035", inspect(r#""SecurityOpt":["systempaths=unconfined"]"#, ""), inspect(r#""SecurityOpt":[]"#, "")),
        y("VGL-A036", compose("devices: [\"/dev/fuse:/dev/fuse\"]"), compose("")),
        y("VGL-A036", inspect(r#""Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}]"#, ""), inspect(r#""Devices":[]"#, "")),
        y("VGL-A037", pod("", &sc("windowsOptions: {hostProcess: true}")), pod("", &sc("windowsOptions: {hostProcess: false}"))),
        y("VGL-A038", pod("volumes:\n- name: v\n  nfs: {server: nfs, path: /x}", ""), pod("volumes:\n- name: v\n  configMap: {name: c}", "")),
        y("VGL-A039", compose("ports: [\"8080:80\"]"), compose("ports: [\"127.0.0.1:8080:80\"]")),
        y("VGL-A039", inspect(r#""PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}"#, ""), inspect(r#""PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]}"#, "")),
        y("VGL-A040", pod("", "env:\n- name: PW\n  valueFrom: {secretKeyRef: {name: db, key: pw}}"), pod("volumes:\n- name: s\n  secret: {secretName: db}", "volumeMounts:\n- {name: s, mountPath: /secrets, readOnly: true}")),
        y("VGL-A040", pod("", "envFrom:\n- secretRef: {name: db}"), pod("", "envFrom:\n- configMapRef: {name: cfg}")),
        y("VGL-A041", pod("volumes:\n- name: v\n  hostPath: {path: /mnt}", "volumeMounts:\n- {name: v, mountPath: /mnt, mountPropagation: Bidirectional}"), pod("volumes:\n- name: v\n  hostPath: {path: /mnt}", "volumeMounts:\n- {name: v, mountPath: /mnt, mountPropagation: HostToContainer}")),
        y("VGL-A041", compose("volumes: [\"/mnt:/mnt:rshared\"]"), compose("volumes: [\"/mnt:/mnt:rslave\"]")),
        d("VGL-A050", "FROM debian:12\nRUN true\n", "FROM debian:12\nUSER 1000\n"),
        d("VGL-A050", "FROM debian:12 AS base\nUSER app\nFROM alpine:3.20\nRUN true\n", "FROM debian:12 AS base\nUSER app\nFROM base\nRUN true\n"),
        d("VGL-A051", "FROM debian:12\nUSER app\nRUN x\nUSER root\n", "FROM debian:12\nUSER root\nRUN x\nUSER app\n"),
        d("VGL-A051", "FROM debian:12\nUSER 0:0\n", "FROM debian:12\nUSER 10001:10001\n"),
        d("VGL-A052", "FROM debian:12\nADD https://example.com/x.tgz /x.tgz\nUSER 1\n", "FROM debian:12\nADD --checksum=sha256:abc https://example.com/x.tgz /x.tgz\nUSER 1\n"),
        d("VGL-A053", "FROM debian:12\nADD app.conf /etc/app.conf\nUSER 1\n", "FROM debian:12\nCOPY app.conf /etc/app.conf\nADD rootfs.tar.gz /\nUSER 1\n"),
        d("VGL-A054", "FROM debian:12\nRUN curl -fsSL https://x.sh | bash\nUSER 1\n", "FROM debian:12\nRUN curl -fsSLo /tmp/x.sh https://x.sh && sha256sum -c /sums\nUSER 1\n"),
        d("VGL-A055", "FROM debian:12\nRUN apt-get update && sudo apt-get install -y x\nUSER 1\n", "FROM debian:12\nRUN apt-get install -y sudoku\nUSER 1\n"),
        d("VGL-A055", "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends git sudo=1.9.13p3-1+deb12u1\nUSER 1\n", "FROM debian:12\nRUN echo 'sudo is not installed here'\nUSER 1\n"),
        d("VGL-A055", "FROM alpine:3.20\nRUN apk add --no-cache sudo\nUSER 1\n", "FROM alpine:3.20\nRUN apk del sudo\nUSER 1\n"),
        d("VGL-A056", "FROM debian:12\nENV NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789\nUSER 1\n", "FROM debian:12\nENV NODE_ENV=production\nUSER 1\n"),
        d("VGL-A056", "FROM debian:12\nARG DB_PASSWORD=s3cr3tpass\nUSER 1\n", "FROM debian:12\nARG DB_PASSWORD\nUSER 1\n"),
        d("VGL-A056", "FROM debian:12\nRUN git clone https://u:tok3nvalue@git.example/r.git\nUSER 1\n", "FROM debian:12\nRUN --mount=type=secret,id=tok git clone https://git.example/r.git\nUSER 1\n"),
        d("VGL-A057", "FROM debian:12\nRUN curl -fsSLk https://x/y -o /y\nUSER 1\n", "FROM debian:12\nRUN curl -fsSL https://x/y -o /y\nUSER 1\n"),
        d("VGL-A057", "FROM debian:12\nRUN pip install --trusted-host pypi.internal app\nUSER 1\n", "FROM debian:12\nRUN pip install app\nUSER 1\n"),
        d("VGL-A057", "FROM node:20\nENV NODE_TLS_REJECT_UNAUTHORIZED=0\nUSER 1\n", "FROM node:20\nENV NODE_TLS_REJECT_UNAUTHORIZED=1\nUSER 1\n"),
        y("VGL-A004", inspect(r#""CapDrop":["CAP_NET_RAW"]"#, ""), inspect(r#""CapDrop":["CAP_AUDIT_WRITE","CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_MKNOD","CAP_NET_BIND_SERVICE","CAP_NET_RAW","CAP_SETFCAP","CAP_SETGID","CAP_SETPCAP","CAP_SETUID","CAP_SYS_CHROOT"]"#, "")),
        d("VGL-A031", "FROM ubuntu:latest\nUSER 1\n", "FROM ubuntu:24.04\nUSER 1\n"),
        d("VGL-A031", "FROM ubuntu\nUSER 1\n", "FROM ubuntu:24.04\nUSER 1\n"),
        d("VGL-A032", "FROM ubuntu:24.04\nUSER 1\n", "FROM ubuntu:24.04@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nUSER 1\n"),
        d("VGL-A027", "FROM ubuntu:24.04\nEXPOSE 22/tcp\nUSER 1\n", "FROM ubuntu:24.04\nEXPOSE 2222\nUSER 1\n"),
    ]
}

#[test]
fn every_fixture_fails_and_passes_as_expected() {
    let mut problems = Vec::new();
    for c in cases() {
        let fail = ids(&c.fail, c.kind);
        if !fail.contains(&c.id) {
            problems.push(format!(
                "{}: failing example not reported; got {fail:?}\n{}",
                c.id, c.fail
            ));
        }
        let pass = ids(&c.pass, c.kind);
        if pass.contains(&c.id) {
            problems.push(format!("{}: passing example reported\n{}", c.id, c.pass));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_check_has_fixtures() {
    let cs = cases();
    let missing: Vec<&str> = CHECKS
        .iter()
        .map(|c| c.id)
        .filter(|id| !cs.iter().any(|c| c.id == *id))
        .collect();
    assert!(missing.is_empty(), "checks without fixtures: {missing:?}");
}

#[test]
fn findings_name_file_line_and_yaml_path() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: x:1\n        - name: b\n          image: y:1\n          securityContext:\n            privileged: true\n";
    let r = audit_bytes(
        "deploy.yaml",
        text.as_bytes(),
        Hint::Structured,
        true,
        &Options::default(),
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.check == "VGL-A001")
        .expect("privileged finding");
    assert_eq!(f.file, "deploy.yaml");
    assert_eq!(f.line, 14);
    assert_eq!(
        f.path,
        "spec.template.spec.containers[1].securityContext.privileged"
    );
    assert_eq!(f.container.as_deref(), Some("b"));
    assert_eq!(f.workload, "Deployment/web");
    // Multi-document: lines are file-global.
    let two = format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\n---\n{text}");
    let r = audit_bytes(
        "two.yaml",
        two.as_bytes(),
        Hint::Structured,
        true,
        &Options::default(),
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.check == "VGL-A001")
        .expect("privileged finding");
    assert_eq!(f.line, 18);
    assert_eq!(r.skipped.len(), 1, "the Service is counted as skipped");
}

#[test]
fn cronjob_list_and_controller_paths() {
    let cj = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          hostPID: true\n          containers: [{name: x, image: 'a:1'}]\n";
    let r = audit_bytes(
        "c.yaml",
        cj.as_bytes(),
        Hint::Structured,
        true,
        &Options::default(),
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.check == "VGL-A012")
        .expect("hostPID");
    assert_eq!(f.path, "spec.jobTemplate.spec.template.spec.hostPID");
    assert_eq!(f.line, 9);
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    hostIPC: true\n    containers: [{name: x, image: 'a:1'}]\n";
    let r = audit_bytes(
        "l.yaml",
        list.as_bytes(),
        Hint::Structured,
        true,
        &Options::default(),
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.check == "VGL-A013")
        .expect("hostIPC");
    assert_eq!(f.path, "items[0].spec.hostIPC");
    for kind in ["StatefulSet", "DaemonSet", "ReplicaSet", "Job"] {
        let t = format!("apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: w}}\nspec:\n  template:\n    spec:\n      hostNetwork: true\n      containers: [{{name: x, image: 'a:1'}}]\n");
        let r = audit_bytes(
            "k.yaml",
            t.as_bytes(),
            Hint::Structured,
            true,
            &Options::default(),
        );
        assert!(
            r.findings
                .iter()
                .any(|f| f.check == "VGL-A014" && f.workload == format!("{kind}/w")),
            "{kind}"
        );
    }
}

#[test]
fn fix_suggestions() {
    let r = audit_bytes(
        "p.yaml",
        pod("hostPID: true", "securityContext:\n  privileged: true").as_bytes(),
        Hint::Structured,
        true,
        &Options::default(),
    );
    let fix = r.workloads[0].fix.as_deref().expect("fix");
    for want in [
        "spec:",
        "hostPID: false",
        "privileged: false",
        "allowPrivilegeEscalation: false",
        "drop: [\"ALL\"]",
        "runAsNonRoot: true",
        "- name: c",
    ] {
        assert!(fix.contains(want), "missing {want} in\n{fix}");
    }
    let r = audit_bytes(
        "i.json",
        inspect(r#""Privileged":true,"PidMode":"host""#, "").as_bytes(),
        Hint::Structured,
        true,
        &Options::default(),
    );
    let fix = r.workloads[0].fix.as_deref().expect("fix");
    assert!(fix.contains("remove: --privileged --pid host"), "{fix}");
    assert!(
        fix.contains("--cap-drop ALL") && fix.contains("--security-opt no-new-privileges"),
        "{fix}"
    );
}
