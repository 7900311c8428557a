//! The check catalogue and the checks over [`Workload`]s.
//!
//! Every check has a stable ID (`VGL-A0nn`), a severity, rationale, remediation and the
//! matching IDs of other catalogues where one exists (CIS Docker Benchmark v1.6.0 section 4/5
//! as numbered by docker-bench-security, the Kubernetes Pod Security Standards control, Checkov
//! and Trivy IDs as found in those projects' sources; empty where there is no equivalent).
//! The catalogue is data so `docs/audit-checks.md`, SARIF rule metadata and `--list-checks`
//! come from one place; the evaluation is plain code because the checks need effective values
//! (container settings override pod settings), which a declarative rule language would have
//! to reinvent.

use crate::engine::ENGINE_DEFAULT_CAPS;
use crate::model::{join, Container, Field, Loc, MountKind, Platform, Workload};
use crate::report::{Finding, Severity};
use crate::secrets;

/// Metadata of one check.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CheckInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub rationale: &'static str,
    pub remediation: &'static str,
    /// CIS Docker Benchmark v1.6.0 recommendation number.
    pub cis: &'static str,
    /// Pod Security Standards control (profile: control).
    pub pss: &'static str,
    pub checkov: &'static [&'static str],
    pub trivy: &'static [&'static str],
    pub hadolint: &'static [&'static str],
    /// Inputs the check applies to.
    pub applies_to: &'static str,
}

macro_rules! check {
    ($id:literal, $sev:ident, $title:literal, $why:literal, $fix:literal, cis=$cis:literal, pss=$pss:literal, checkov=[$($ck:literal),*], trivy=[$($tr:literal),*], hadolint=[$($hl:literal),*], applies=$ap:expr) => {
        CheckInfo { id: $id, severity: Severity::$sev, title: $title, rationale: $why, remediation: $fix, cis: $cis, pss: $pss, checkov: &[$($ck),*], trivy: &[$($tr),*], hadolint: &[$($hl),*], applies_to: $ap }
    };
}

const ALL_RT: &str = "kubernetes, compose, engine, oci";

/// The catalogue, in ID order.
pub static CHECKS: &[CheckInfo] = &[
    check!("VGL-A001", Critical, "Privileged container",
        "A privileged container has every capability, all host devices, no seccomp/AppArmor confinement and writable /sys: root in it is root on the host.",
        "Remove privileged mode (`privileged: false`, drop `--privileged`) and add only the specific capabilities the workload needs.",
        cis="5.5", pss="baseline: Privileged Containers", checkov=["CKV_K8S_16"], trivy=["KSV-0017"], hadolint=[], applies=ALL_RT),
    check!("VGL-A002", High, "Dangerous capability added",
        "Capabilities such as SYS_ADMIN, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH, NET_ADMIN, BPF or ALL give well-known container escapes or host-wide control.",
        "Remove the capability from `capabilities.add` / `--cap-add`; if a feature needs it, isolate that feature in a separate, narrowly scoped workload.",
        cis="5.4", pss="baseline: Capabilities", checkov=["CKV_K8S_39", "CKV_K8S_25"], trivy=["KSV-0005", "KSV-0120", "KSV-0119", "KSV-0022"], hadolint=[], applies=ALL_RT),
    check!("VGL-A003", Medium, "Capabilities outside the default set added",
        "Capabilities beyond the runtime's default set (and beyond what the baseline Pod Security Standard allows) widen the kernel attack surface.",
        "Remove the capability or justify it; the baseline profile only allows AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.",
        cis="5.4", pss="baseline: Capabilities", checkov=["CKV_K8S_25"], trivy=["KSV-0022"], hadolint=[], applies=ALL_RT),
    check!("VGL-A004", Medium, "Capabilities not dropped (ALL)",
        "Containers start with a default set of capabilities (including NET_RAW, used for ARP/DNS spoofing) that most applications never use.",
        "Drop all capabilities (`capabilities.drop: [ALL]`, `--cap-drop ALL`) and add back only what is needed (usually nothing, or NET_BIND_SERVICE).",
        cis="5.4", pss="restricted: Capabilities", checkov=["CKV_K8S_28", "CKV_K8S_37"], trivy=["KSV-0003", "KSV-0004"], hadolint=[], applies=ALL_RT),
    check!("VGL-A005", Medium, "Container may run as root",
        "Nothing forces a non-root user, so the image default applies, which is root for most images; root in a container is one kernel bug away from root on the host.",
        "Set `runAsNonRoot: true` and a non-zero `runAsUser` (Kubernetes) or `user: \"10001:10001\"` / `--user 10001` (engines).",
        cis="4.1", pss="restricted: Running as Non-root", checkov=["CKV_K8S_23"], trivy=["KSV-0012"], hadolint=[], applies=ALL_RT),
    check!("VGL-A006", High, "Container explicitly runs as UID 0",
        "The configuration asks for root (`runAsUser: 0`, `user: root`).",
        "Use a dedicated non-zero UID.",
        cis="4.1", pss="restricted: Running as Non-root user", checkov=["CKV_K8S_23"], trivy=["KSV-0105", "KSV-0012"], hadolint=[], applies=ALL_RT),
    check!("VGL-A007", Medium, "Privilege escalation allowed (no_new_privs unset)",
        "Without no_new_privs, setuid binaries and file capabilities inside the container can raise privileges.",
        "Set `allowPrivilegeEscalation: false` (Kubernetes), `--security-opt no-new-privileges` (engines), `noNewPrivileges: true` (OCI).",
        cis="5.26", pss="restricted: Privilege Escalation", checkov=["CKV_K8S_20"], trivy=["KSV-0001"], hadolint=[], applies=ALL_RT),
    check!("VGL-A008", Low, "Root filesystem is writable",
        "A writable root filesystem lets an intruder drop tools and persist changes to binaries and configuration.",
        "Set `readOnlyRootFilesystem: true` / `read_only: true` / `--read-only`, and mount emptyDir/tmpfs where the application writes.",
        cis="5.13", pss="", checkov=["CKV_K8S_22"], trivy=["KSV-0014"], hadolint=[], applies=ALL_RT),
    check!("VGL-A009", Medium, "No memory limit",
        "Without a memory limit one container can exhaust host memory and trigger the OOM killer on its neighbours.",
        "Set `resources.limits.memory` / `mem_limit` / `--memory`.",
        cis="5.11", pss="", checkov=["CKV_K8S_13"], trivy=["KSV-0018"], hadolint=[], applies=ALL_RT),
    check!("VGL-A010", Low, "No CPU limit",
        "Without a CPU limit or quota one container can starve others of CPU.",
        "Set `resources.limits.cpu` / `cpus` / `--cpus`.",
        cis="5.12", pss="", checkov=["CKV_K8S_11"], trivy=["KSV-0011"], hadolint=[], applies=ALL_RT),
    check!("VGL-A011", Low, "No PIDs limit",
        "Without a PIDs cgroup limit a fork bomb in the container exhausts the host's process table.",
        "Set `pids_limit` / `--pids-limit` (Kubernetes sets this per node with the kubelet's podPidsLimit).",
        cis="5.29", pss="", checkov=[], trivy=[], hadolint=[], applies="compose, engine, oci"),
    check!("VGL-A012", High, "Host PID namespace shared",
        "Sharing the host PID namespace exposes every host process: signals, /proc/<pid>/environ secrets and, with ptrace, code injection.",
        "Remove `hostPID: true` / `pid: host` / `--pid=host`.",
        cis="5.16", pss="baseline: Host Namespaces", checkov=["CKV_K8S_17"], trivy=["KSV-0010"], hadolint=[], applies=ALL_RT),
    check!("VGL-A013", High, "Host IPC namespace shared",
        "Sharing the host IPC namespace exposes host shared memory and message queues.",
        "Remove `hostIPC: true` / `ipc: host` / `--ipc=host`.",
        cis="5.17", pss="baseline: Host Namespaces", checkov=["CKV_K8S_18"], trivy=["KSV-0008"], hadolint=[], applies=ALL_RT),
    check!("VGL-A014", High, "Host network namespace shared",
        "Host networking exposes host interfaces and localhost-only services and bypasses network policy.",
        "Remove `hostNetwork: true` / `network_mode: host` / `--network=host`.",
        cis="5.10", pss="baseline: Host Namespaces", checkov=["CKV_K8S_19"], trivy=["KSV-0009"], hadolint=[], applies=ALL_RT),
    check!("VGL-A015", Medium, "Host UTS namespace shared",
        "Sharing the host UTS namespace lets the container change the host's hostname.",
        "Remove `uts: host` / `--uts=host`.",
        cis="5.21", pss="", checkov=[], trivy=[], hadolint=[], applies="compose, engine, oci"),
    check!("VGL-A016", Low, "No user namespace",
        "Without a user namespace, UID 0 in the container is UID 0 on the host; with one, a container root maps to an unprivileged host UID.",
        "Set `hostUsers: false` (Kubernetes 1.30+), `userns_mode`/`--userns=auto` (podman) or enable userns-remap (Docker).",
        cis="5.31", pss="", checkov=[], trivy=[], hadolint=[], applies=ALL_RT),
    check!("VGL-A017", Critical, "Sensitive host path mounted",
        "Mounting /, /etc, /proc, /sys, /dev, /boot, /root or the runtime's state directories gives the container direct access to host credentials, devices or kernel tunables.",
        "Remove the host mount; use a volume, ConfigMap or Secret, or mount the narrowest path read-only.",
        cis="5.6", pss="baseline: HostPath Volumes", checkov=[], trivy=["KSV-0121", "KSV-0023"], hadolint=[], applies=ALL_RT),
    check!("VGL-A018", Critical, "Container runtime socket mounted",
        "The Docker, containerd, CRI-O or podman socket gives full control of the runtime: start a privileged container and own the host.",
        "Remove the socket mount; use a scoped API proxy if the workload must talk to the runtime.",
        cis="5.32", pss="baseline: HostPath Volumes", checkov=["CKV_K8S_27"], trivy=["KSV-0006"], hadolint=[], applies=ALL_RT),
    check!("VGL-A019", Low, "Host path mounted writable",
        "A host path mounted read-write lets the container modify host files; most host mounts only need to be read.",
        "Mount it read-only (`readOnly: true`, `:ro`).",
        cis="5.6", pss="", checkov=[], trivy=[], hadolint=[], applies=ALL_RT),
    check!("VGL-A020", Medium, "hostPath volume used",
        "hostPath volumes tie the pod to a node and expose node files; the baseline Pod Security Standard forbids them.",
        "Use a PersistentVolumeClaim, emptyDir, ConfigMap or Secret instead.",
        cis="5.6", pss="baseline: HostPath Volumes", checkov=[], trivy=["KSV-0023"], hadolint=[], applies="kubernetes"),
    check!("VGL-A021", High, "Seccomp disabled (unconfined)",
        "Without a seccomp filter every syscall is reachable, including the ones most kernel exploits need.",
        "Use the runtime default profile (`seccompProfile.type: RuntimeDefault`, drop `seccomp=unconfined`).",
        cis="5.22", pss="baseline: Seccomp", checkov=["CKV_K8S_31"], trivy=["KSV-0104"], hadolint=[], applies=ALL_RT),
    check!("VGL-A022", Low, "Seccomp profile not set",
        "Kubernetes runs containers Unconfined unless a profile is set (or the kubelet's SeccompDefault is on).",
        "Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod.",
        cis="5.22", pss="restricted: Seccomp", checkov=["CKV_K8S_31"], trivy=["KSV-0030"], hadolint=[], applies="kubernetes"),
    check!("VGL-A023", High, "AppArmor disabled (unconfined)",
        "An unconfined AppArmor profile removes the mandatory access control layer that blocks mount, ptrace and /proc writes.",
        "Use the runtime default profile (`appArmorProfile.type: RuntimeDefault`, drop `apparmor=unconfined`).",
        cis="5.2", pss="baseline: AppArmor", checkov=[], trivy=["KSV-0002"], hadolint=[], applies=ALL_RT),
    check!("VGL-A024", High, "SELinux disabled or custom SELinux options",
        "`label=disable` or a custom type/user/role (e.g. spc_t) removes or weakens SELinux confinement.",
        "Do not set SELinux user/role; use container_t (or another container_* type) or leave the default.",
        cis="5.3", pss="baseline: SELinux", checkov=[], trivy=["KSV-0025"], hadolint=[], applies=ALL_RT),
    check!("VGL-A025", Medium, "hostPort used",
        "hostPort binds the node's interface, bypasses network policy and limits scheduling.",
        "Remove `hostPort`; expose the pod through a Service.",
        cis="", pss="baseline: Host Ports", checkov=["CKV_K8S_26"], trivy=["KSV-0024"], hadolint=[], applies="kubernetes"),
    check!("VGL-A026", Low, "Privileged host port mapped (< 1024)",
        "Mapping a host port below 1024 needs extra privilege and may shadow system services.",
        "Map to a host port of 1024 or higher.",
        cis="5.8", pss="", checkov=[], trivy=[], hadolint=[], applies=ALL_RT),
    check!("VGL-A027", Medium, "SSH port exposed",
        "Port 22 suggests an sshd in the container: another way in, with credentials to manage.",
        "Remove sshd; use `kubectl exec` / `podman exec` for access.",
        cis="5.7", pss="", checkov=["CKV_DOCKER_1"], trivy=["DS-0004"], hadolint=[], applies="kubernetes, compose, engine, dockerfile"),
    check!("VGL-A028", Low, "Default bridge network",
        "Containers on the default bridge can reach every other container on it; user-defined networks isolate them.",
        "Use a user-defined network (or `--network=none` when no network is needed).",
        cis="5.30", pss="", checkov=[], trivy=[], hadolint=[], applies="compose, engine"),
    check!("VGL-A029", High, "Credential in environment variable",
        "A credential with a recognizable format (AWS key, GitHub token, private key, password in a URL, ...) or a high-entropy secret-named value is stored in plain text in the configuration.",
        "Move it to a Secret / secret file and rotate the exposed credential.",
        cis="4.10", pss="", checkov=["CKV_SECRET_2", "CKV_SECRET_4", "CKV_SECRET_6", "CKV_SECRET_9", "CKV_SECRET_12", "CKV_SECRET_13", "CKV_SECRET_14", "CKV_SECRET_17", "CKV_SECRET_19"], trivy=[], hadolint=[], applies=ALL_RT),
    check!("VGL-A030", Medium, "Secret-like variable with a literal value",
        "A variable named like a password, token or key carries a literal value in the configuration.",
        "Reference a Secret (`valueFrom.secretKeyRef`), a secret file, or an environment variable resolved at deploy time.",
        cis="4.10", pss="", checkov=["CKV_SECRET_10"], trivy=[], hadolint=[], applies=ALL_RT),
    check!("VGL-A031", Medium, "Image uses :latest or no tag",
        "A floating tag makes deployments non-reproducible and silently pulls new code.",
        "Pin a version tag, ideally with a digest (`image: repo:1.2.3@sha256:...`).",
        cis="", pss="", checkov=["CKV_K8S_14", "CKV_DOCKER_7"], trivy=["KSV-0013", "DS-0001"], hadolint=["DL3006", "DL3007"], applies="kubernetes, compose, dockerfile"),
    check!("VGL-A032", Low, "Image not pinned by digest",
        "Tags are mutable; only a digest guarantees the image that was reviewed is the one that runs.",
        "Reference the image by digest (`@sha256:...`).",
        cis="", pss="", checkov=["CKV_K8S_43"], trivy=[], hadolint=[], applies="kubernetes, compose, dockerfile"),
    check!("VGL-A033", Low, "Service account token automounted",
        "Every pod gets an API token unless told otherwise; an intruder uses it to talk to the API server.",
        "Set `automountServiceAccountToken: false` on the pod (or service account) unless it calls the API.",
        cis="", pss="", checkov=["CKV_K8S_38"], trivy=["KSV-0036"], hadolint=[], applies="kubernetes"),
    check!("VGL-A034", High, "Unsafe sysctl",
        "Sysctls outside the namespaced safe set change host-wide kernel behaviour.",
        "Only use the safe sysctls (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.ip_local_reserved_ports, net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes).",
        cis="", pss="baseline: Sysctls", checkov=[], trivy=["KSV-0026"], hadolint=[], applies=ALL_RT),
    check!("VGL-A035", High, "/proc is unmasked",
        "The default /proc masks hide kernel interfaces (/proc/kcore, /proc/sysrq-trigger, ...); Unmasked exposes them.",
        "Remove `procMount: Unmasked` / `systempaths=unconfined` / `unmask=ALL`.",
        cis="", pss="baseline: /proc Mount Type", checkov=[], trivy=["KSV-0027"], hadolint=[], applies=ALL_RT),
    check!("VGL-A036", Medium, "Host device exposed",
        "A host device node in the container bypasses the device cgroup's default deny list.",
        "Remove `devices` / `--device` unless the workload is a device driver; prefer a device plugin.",
        cis="5.18", pss="", checkov=[], trivy=[], hadolint=[], applies="compose, engine, oci"),
    check!("VGL-A037", High, "Windows HostProcess container",
        "HostProcess containers run directly on the Windows host with host privileges.",
        "Remove `windowsOptions.hostProcess: true`.",
        cis="", pss="baseline: HostProcess", checkov=[], trivy=["KSV-0103"], hadolint=[], applies="kubernetes"),
    check!("VGL-A038", Low, "Volume type outside the restricted set",
        "The restricted Pod Security Standard allows only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret volumes.",
        "Replace the volume with one of the allowed types.",
        cis="", pss="restricted: Volume Types", checkov=[], trivy=["KSV-0028"], hadolint=[], applies="kubernetes"),
    check!("VGL-A039", Low, "Port published on all host interfaces",
        "A published port without a host IP listens on every interface of the host, including public ones.",
        "Bind to a specific address (`127.0.0.1:8080:80`).",
        cis="5.14", pss="", checkov=[], trivy=[], hadolint=[], applies="compose, engine"),
    check!("VGL-A040", Low, "Secret passed as environment variable",
        "Environment variables leak through /proc, crash dumps, child processes and logs; mounted files do not.",
        "Mount the Secret as a file (a `secret` volume) instead of `secretKeyRef` / `envFrom.secretRef`.",
        cis="", pss="", checkov=["CKV_K8S_35"], trivy=[], hadolint=[], applies="kubernetes"),
    check!("VGL-A041", Medium, "Shared mount propagation",
        "Shared (or Bidirectional) propagation lets mounts made in the container appear on the host.",
        "Use private (default) or HostToContainer propagation.",
        cis="5.20", pss="", checkov=[], trivy=[], hadolint=[], applies=ALL_RT),
    check!("VGL-A050", Medium, "Dockerfile sets no USER",
        "Without a USER instruction in the final stage the image runs as root.",
        "Create a user and add `USER 10001` (numeric, so `runAsNonRoot` can verify it) at the end.",
        cis="4.1", pss="", checkov=["CKV_DOCKER_3"], trivy=["DS-0002"], hadolint=[], applies="dockerfile"),
    check!("VGL-A051", High, "Dockerfile's last USER is root",
        "The final USER switches to root, so the container runs as root.",
        "Make the last USER a non-root user.",
        cis="4.1", pss="", checkov=["CKV_DOCKER_8"], trivy=["DS-0002"], hadolint=["DL3002"], applies="dockerfile"),
    check!("VGL-A052", Medium, "ADD fetches a remote URL",
        "ADD with a URL downloads at build time without checksum verification (unless --checksum is given).",
        "Download with curl/wget and verify a checksum, or use `ADD --checksum=sha256:...`.",
        cis="4.9", pss="", checkov=["CKV_DOCKER_4"], trivy=["DS-0005"], hadolint=[], applies="dockerfile"),
    check!("VGL-A053", Low, "ADD used where COPY suffices",
        "ADD silently extracts archives and fetches URLs; COPY does only what it says.",
        "Use COPY for local files.",
        cis="4.9", pss="", checkov=["CKV_DOCKER_4"], trivy=["DS-0005"], hadolint=["DL3020"], applies="dockerfile"),
    check!("VGL-A054", Medium, "Remote script piped to a shell",
        "`curl ... | sh` runs whatever the server returns at build time, unverified.",
        "Download the script, verify its checksum or signature, then run it.",
        cis="", pss="", checkov=[], trivy=[], hadolint=[], applies="dockerfile"),
    check!("VGL-A055", Low, "sudo used or installed in RUN",
        "Build steps already run as the current USER; sudo in an image is a setuid-root binary that a compromised process can use to escalate wherever sudoers allows it.",
        "Switch USER around the privileged steps instead of using sudo, and do not install the sudo package.",
        cis="", pss="", checkov=["CKV2_DOCKER_1"], trivy=["DS-0010"], hadolint=["DL3004"], applies="dockerfile"),
    check!("VGL-A056", High, "Secret hard-coded in Dockerfile",
        "ENV/ARG values and RUN commands are stored in the image history, readable by anyone who can pull the image.",
        "Use BuildKit secrets (`RUN --mount=type=secret`) and runtime secrets; rotate the exposed credential.",
        cis="4.10", pss="", checkov=["CKV_SECRET_2", "CKV_SECRET_4", "CKV_SECRET_6", "CKV_SECRET_9", "CKV_SECRET_10", "CKV_SECRET_12", "CKV_SECRET_13", "CKV_SECRET_14", "CKV_SECRET_17", "CKV_SECRET_19"], trivy=["DS-0031"], hadolint=["DL3064"], applies="dockerfile"),
    check!("VGL-A057", Medium, "TLS or signature verification disabled at build time",
        "`curl -k`, `wget --no-check-certificate`, `pip --trusted-host`, `apt-get --allow-unauthenticated`, `apk --allow-untrusted`, `--nogpgcheck`, `NODE_TLS_REJECT_UNAUTHORIZED=0` and similar let a network attacker replace what gets installed into the image.",
        "Remove the option; install the CA certificate or signing key the build needs instead.",
        cis="4.11", pss="", checkov=["CKV2_DOCKER_2", "CKV2_DOCKER_3", "CKV2_DOCKER_4", "CKV2_DOCKER_5", "CKV2_DOCKER_6", "CKV2_DOCKER_7", "CKV2_DOCKER_8", "CKV2_DOCKER_9", "CKV2_DOCKER_10", "CKV2_DOCKER_11", "CKV2_DOCKER_12", "CKV2_DOCKER_13", "CKV2_DOCKER_14", "CKV2_DOCKER_15", "CKV2_DOCKER_16"], trivy=[], hadolint=[], applies="dockerfile"),
];

/// Looks up a check by ID.
pub fn info(id: &str) -> Option<&'static CheckInfo> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Capabilities that hand out host-level power (container escapes, host network control).
pub const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "SYS_PTRACE",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "SYS_TIME",
    "DAC_READ_SEARCH",
    "NET_ADMIN",
    "NET_RAW",
    "BPF",
    "PERFMON",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "SYSLOG",
    "LINUX_IMMUTABLE",
];

/// Capabilities the baseline Pod Security Standard allows to add.
pub const PSS_BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls the baseline Pod Security Standard allows.
pub const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// SELinux types the baseline Pod Security Standard allows.
pub const PSS_SELINUX_TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Volume types the restricted Pod Security Standard allows.
pub const PSS_RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

const RUNTIME_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/podman/podman.sock",
    "/run/podman/podman.sock",
    "/var/run/dockershim.sock",
    "/run/dockershim.sock",
    "/var/run/cri-dockerd.sock",
    "/run/k3s/containerd/containerd.sock",
];

/// Host directories whose mount (of the directory itself or anything below it) is sensitive.
const SENSITIVE_TREES: &[&str] = &[
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/kubelet",
    "/var/lib/rancher",
    "/var/run/containerd",
    "/run/containerd",
];

/// Host directories whose mount is sensitive only as a whole (their subpaths are common).
const SENSITIVE_EXACT: &[&str] = &[
    "/", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/var", "/var/run", "/run", "/home", "/var/lib",
];

fn normalize_path(p: &str) -> String {
    let mut out = String::from("/");
    for part in p.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if out.len() > 1 {
            out.push('/');
        }
        out.push_str(part);
    }
    out
}

/// True when mounting host path `p` exposes the container runtime's API.
pub fn is_runtime_socket(p: &str) -> bool {
    let n = normalize_path(p);
    RUNTIME_SOCKETS.contains(&n.as_str())
}

/// True when mounting host path `p` is sensitive (see [`SENSITIVE_TREES`]).
pub fn is_sensitive_host_path(p: &str) -> bool {
    let n = normalize_path(p);
    SENSITIVE_EXACT.contains(&n.as_str())
        || SENSITIVE_TREES
            .iter()
            .any(|t| n == *t || n.starts_with(&format!("{t}/")))
}

/// Splits an image reference into (name, tag, digest).
pub fn parse_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    // The tag is after the last ':' that follows the last '/' (a ':' before it is a port).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

/// Collects findings for one workload.
pub struct Sink<'a> {
    pub out: &'a mut Vec<Finding>,
    pub workload: String,
}

impl Sink<'_> {
    /// Records a finding of check `id` at `loc`.
    pub fn emit(&mut self, id: &'static str, loc: &Loc, container: Option<&str>, message: String) {
        let Some(info) = info(id) else { return };
        self.out.push(Finding {
            check: info.id,
            severity: info.severity,
            title: info.title,
            message,
            file: String::new(),
            line: loc.line,
            path: loc.path.clone(),
            workload: self.workload.clone(),
            container: container.map(str::to_string),
        });
    }
}

/// Where a missing setting would be written, per platform.
fn missing(w: &Workload, c: &Container, key: &str) -> Loc {
    let line = c.sc.loc.line.max(c.loc.line);
    let base = &c.loc.path;
    let path = match (w.platform, key) {
        (Platform::Kubernetes, "limits.memory") => join(&c.limits_loc.path, "memory"),
        (Platform::Kubernetes, "limits.cpu") => join(&c.limits_loc.path, "cpu"),
        (Platform::Kubernetes, "hostUsers" | "automountServiceAccountToken") => {
            join(&w.pod_loc.path, key)
        }
        (Platform::Kubernetes, k) => join(&c.sc.loc.path, k),
        (Platform::Compose, k) => join(
            base,
            match k {
                "capabilities.drop" => "cap_drop",
                "runAsNonRoot" => "user",
                "allowPrivilegeEscalation" => "security_opt",
                "readOnlyRootFilesystem" => "read_only",
                "limits.memory" => "deploy.resources.limits.memory",
                "limits.cpu" => "deploy.resources.limits.cpus",
                "limits.pids" => "deploy.resources.limits.pids",
                "hostUsers" => "userns_mode",
                other => other,
            },
        ),
        (Platform::Engine, k) => join(
            base,
            match k {
                "capabilities.drop" => "HostConfig.CapDrop",
                "runAsNonRoot" => "Config.User",
                "allowPrivilegeEscalation" => "HostConfig.SecurityOpt",
                "readOnlyRootFilesystem" => "HostConfig.ReadonlyRootfs",
                "limits.memory" => "HostConfig.Memory",
                "limits.cpu" => "HostConfig.NanoCpus",
                "limits.pids" => "HostConfig.PidsLimit",
                "hostUsers" => "HostConfig.UsernsMode",
                other => other,
            },
        ),
        (Platform::Oci, k) => match k {
            "capabilities.drop" => "process.capabilities.bounding",
            "runAsNonRoot" => "process.user.uid",
            "allowPrivilegeEscalation" => "process.noNewPrivileges",
            "readOnlyRootFilesystem" => "root.readonly",
            "limits.memory" => "linux.resources.memory.limit",
            "limits.cpu" => "linux.resources.cpu.quota",
            "limits.pids" => "linux.resources.pids.limit",
            "hostUsers" => "linux.namespaces",
            other => other,
        }
        .to_string(),
    };
    Loc::new(line, path)
}

/// Effective value: the container's setting, else the pod's.
fn eff<'a, T>(c: &'a Option<Field<T>>, p: &'a Option<Field<T>>) -> Option<&'a Field<T>> {
    c.as_ref().or(p.as_ref())
}

fn is_true(f: &Option<Field<bool>>) -> Option<&Field<bool>> {
    f.as_ref().filter(|f| f.value)
}

/// Engine-style user string → UID when it is numeric or "root".
fn engine_uid(user: &str) -> Option<i64> {
    let u = user.split(':').next().unwrap_or("").trim();
    if u == "root" {
        Some(0)
    } else {
        u.parse().ok()
    }
}

/// Runs every runtime check on a workload.
pub fn check_workload(w: &Workload, sink: &mut Sink<'_>) {
    let k8s = w.platform == Platform::Kubernetes;
    // Pod-level checks.
    for (f, id, what) in [
        (&w.host_pid, "VGL-A012", "PID"),
        (&w.host_ipc, "VGL-A013", "IPC"),
        (&w.host_network, "VGL-A014", "network"),
        (&w.host_uts, "VGL-A015", "UTS"),
    ] {
        if let Some(f) = is_true(f) {
            sink.emit(
                id,
                &f.loc,
                None,
                format!("shares the host {what} namespace"),
            );
        }
    }
    if k8s {
        if let Some(f) = is_true(&w.pod_sc.host_process) {
            sink.emit(
                "VGL-A037",
                &f.loc,
                None,
                "pod is a Windows HostProcess pod".into(),
            );
        }
        if w.automount_sa_token.as_ref().is_none_or(|f| f.value) {
            let loc = w.automount_sa_token.as_ref().map_or_else(
                || {
                    Loc::new(
                        w.pod_loc.line,
                        join(&w.pod_loc.path, "automountServiceAccountToken"),
                    )
                },
                |f| f.loc.clone(),
            );
            sink.emit(
                "VGL-A033",
                &loc,
                None,
                "service account token is mounted (automountServiceAccountToken is not false)"
                    .into(),
            );
        }
        for v in &w.volumes {
            if let Some(hp) = &v.host_path {
                let loc = Loc::new(v.loc.line, join(&v.loc.path, "hostPath.path"));
                if is_runtime_socket(hp) {
                    sink.emit(
                        "VGL-A018",
                        &loc,
                        None,
                        format!(
                            "hostPath volume '{}' mounts the runtime socket {hp}",
                            v.name
                        ),
                    );
                } else if is_sensitive_host_path(hp) {
                    sink.emit(
                        "VGL-A017",
                        &loc,
                        None,
                        format!(
                            "hostPath volume '{}' mounts sensitive host path {hp}",
                            v.name
                        ),
                    );
                } else {
                    sink.emit(
                        "VGL-A020",
                        &loc,
                        None,
                        format!("hostPath volume '{}' mounts {hp}", v.name),
                    );
                }
            } else if !v.source_type.is_empty()
                && !PSS_RESTRICTED_VOLUMES.contains(&v.source_type.as_str())
            {
                sink.emit(
                    "VGL-A038",
                    &v.loc,
                    None,
                    format!("volume '{}' has type {}", v.name, v.source_type),
                );
            }
        }
        let seccomp_everywhere =
            w.pod_sc.seccomp.is_some() || w.containers.iter().all(|c| c.sc.seccomp.is_some());
        if !seccomp_everywhere {
            let loc = Loc::new(
                w.pod_loc.line,
                join(&w.pod_sc.loc.path, "seccompProfile.type"),
            );
            sink.emit(
                "VGL-A022",
                &loc,
                None,
                "no seccomp profile on the pod or its containers".into(),
            );
        }
    }
    let pod_sysctls = w.sysctls.iter().map(|s| (s, None));
    let ctr_sysctls = w
        .containers
        .iter()
        .flat_map(|c| c.sysctls.iter().map(move |s| (s, Some(c.name.as_str()))));
    for (s, cname) in pod_sysctls.chain(ctr_sysctls) {
        if !SAFE_SYSCTLS.contains(&s.value.0.as_str()) {
            sink.emit(
                "VGL-A034",
                &s.loc,
                cname,
                format!("sysctl {}={} is outside the safe set", s.value.0, s.value.1),
            );
        }
    }
    // User namespace.
    let userns_off = match w.platform {
        Platform::Kubernetes => w.host_users.as_ref().is_none_or(|f| f.value),
        _ => w
            .userns_mode
            .as_ref()
            .is_none_or(|f| f.value.is_empty() || f.value == "host"),
    };
    if userns_off {
        if let Some(c) = w.containers.first() {
            let loc = match (&w.host_users, &w.userns_mode) {
                (Some(f), _) => f.loc.clone(),
                (None, Some(f)) if w.platform != Platform::Oci => f.loc.clone(),
                _ => missing(w, c, "hostUsers"),
            };
            sink.emit(
                "VGL-A016",
                &loc,
                None,
                "runs without a user namespace: container root is host root".into(),
            );
        }
    }
    if let Some(nm) = &w.network_mode {
        if matches!(nm.value.as_str(), "default" | "bridge") {
            sink.emit(
                "VGL-A028",
                &nm.loc,
                None,
                format!("network mode '{}' is the shared default bridge", nm.value),
            );
        }
    }
    for c in &w.containers {
        check_container(w, c, sink);
    }
}

fn check_container(w: &Workload, c: &Container, sink: &mut Sink<'_>) {
    let k8s = w.platform == Platform::Kubernetes;
    let name = Some(c.name.as_str());
    let sc = &c.sc;
    let psc = &w.pod_sc;
    if let Some(f) = is_true(&sc.privileged) {
        sink.emit("VGL-A001", &f.loc, name, "runs privileged".into());
    }
    if let Some(f) = is_true(&sc.host_process) {
        sink.emit(
            "VGL-A037",
            &f.loc,
            name,
            "is a Windows HostProcess container".into(),
        );
    }
    for cap in &sc.caps_add {
        if DANGEROUS_CAPS.contains(&cap.value.as_str()) {
            sink.emit(
                "VGL-A002",
                &cap.loc,
                name,
                format!("adds capability {}", cap.value),
            );
        } else if !PSS_BASELINE_CAPS.contains(&cap.value.as_str())
            && !ENGINE_DEFAULT_CAPS.contains(&cap.value.as_str())
        {
            sink.emit(
                "VGL-A003",
                &cap.loc,
                name,
                format!("adds non-default capability {}", cap.value),
            );
        }
    }
    // Podman records `--cap-drop ALL` as the explicit list of default capabilities.
    let drops_all = sc.caps_drop.iter().any(|d| d.value == "ALL")
        || ENGINE_DEFAULT_CAPS
            .iter()
            .all(|cap| sc.caps_drop.iter().any(|d| d.value == *cap));
    if !drops_all {
        let loc = sc
            .caps_drop
            .first()
            .map_or_else(|| missing(w, c, "capabilities.drop"), |d| d.loc.clone());
        let net_raw = if sc.caps_drop.iter().any(|d| d.value == "NET_RAW") {
            ""
        } else {
            " (NET_RAW is kept)"
        };
        sink.emit(
            "VGL-A004",
            &loc,
            name,
            format!("does not drop ALL capabilities{net_raw}"),
        );
    }
    // Users.
    if k8s {
        let uid = eff(&sc.run_as_user, &psc.run_as_user);
        let non_root = eff(&sc.run_as_non_root, &psc.run_as_non_root);
        match uid {
            Some(u) if u.value == 0 => {
                sink.emit("VGL-A006", &u.loc, name, "runAsUser is 0 (root)".into())
            }
            Some(_) => {}
            None => {
                if non_root.is_none_or(|f| !f.value) {
                    let loc =
                        non_root.map_or_else(|| missing(w, c, "runAsNonRoot"), |f| f.loc.clone());
                    sink.emit(
                        "VGL-A005",
                        &loc,
                        name,
                        "neither runAsNonRoot: true nor a non-zero runAsUser is set".into(),
                    );
                }
            }
        }
    } else if let Some(uid) = &sc.run_as_user {
        if uid.value == 0 {
            sink.emit("VGL-A006", &uid.loc, name, "process runs as UID 0".into());
        }
    } else {
        match &c.user {
            Some(u) if !u.value.is_empty() => {
                if engine_uid(&u.value) == Some(0) {
                    sink.emit(
                        "VGL-A006",
                        &u.loc,
                        name,
                        format!("user is '{}' (root)", u.value),
                    );
                }
            }
            other => {
                let loc = other
                    .as_ref()
                    .map_or_else(|| missing(w, c, "runAsNonRoot"), |f| f.loc.clone());
                sink.emit(
                    "VGL-A005",
                    &loc,
                    name,
                    "no user set: the image default (usually root) applies".into(),
                );
            }
        }
    }
    match &sc.allow_privilege_escalation {
        Some(f) if !f.value => {}
        other => {
            let loc = other.as_ref().map_or_else(
                || missing(w, c, "allowPrivilegeEscalation"),
                |f| f.loc.clone(),
            );
            let msg = if k8s {
                "allowPrivilegeEscalation is not false"
            } else {
                "no-new-privileges is not set"
            };
            sink.emit("VGL-A007", &loc, name, msg.into());
        }
    }
    if sc.read_only_root_fs.as_ref().is_none_or(|f| !f.value) {
        let loc = sc.read_only_root_fs.as_ref().map_or_else(
            || missing(w, c, "readOnlyRootFilesystem"),
            |f| f.loc.clone(),
        );
        sink.emit("VGL-A008", &loc, name, "root filesystem is writable".into());
    }
    if c.memory_limit.is_none() {
        sink.emit(
            "VGL-A009",
            &missing(w, c, "limits.memory"),
            name,
            "no memory limit".into(),
        );
    }
    if c.cpu_limit.is_none() {
        sink.emit(
            "VGL-A010",
            &missing(w, c, "limits.cpu"),
            name,
            "no CPU limit".into(),
        );
    }
    if !k8s && c.pids_limit.as_ref().is_none_or(|f| f.value <= 0) {
        let loc = c
            .pids_limit
            .as_ref()
            .map_or_else(|| missing(w, c, "limits.pids"), |f| f.loc.clone());
        sink.emit("VGL-A011", &loc, name, "no PIDs limit".into());
    }
    // Mandatory access control and seccomp.
    if let Some(f) = eff(&sc.seccomp, &psc.seccomp).filter(|f| f.value == "Unconfined") {
        sink.emit("VGL-A021", &f.loc, name, "seccomp is unconfined".into());
    }
    if let Some(f) = eff(&sc.apparmor, &psc.apparmor).filter(|f| f.value == "Unconfined") {
        sink.emit("VGL-A023", &f.loc, name, "AppArmor is unconfined".into());
    }
    if let Some(f) = is_true(&sc.selinux_disabled) {
        sink.emit(
            "VGL-A024",
            &f.loc,
            name,
            "SELinux labeling is disabled".into(),
        );
    }
    for (t, p) in [(&sc.selinux_type, &psc.selinux_type)] {
        if let Some(f) = eff(t, p)
            .filter(|f| !f.value.is_empty() && !PSS_SELINUX_TYPES.contains(&f.value.as_str()))
        {
            sink.emit(
                "VGL-A024",
                &f.loc,
                name,
                format!("SELinux type {} is not a container type", f.value),
            );
        }
    }
    for f in [
        eff(&sc.selinux_user, &psc.selinux_user),
        eff(&sc.selinux_role, &psc.selinux_role),
    ]
    .into_iter()
    .flatten()
    {
        if !f.value.is_empty() {
            sink.emit(
                "VGL-A024",
                &f.loc,
                name,
                format!("custom SELinux user/role '{}'", f.value),
            );
        }
    }
    if let Some(f) = sc.proc_mount.as_ref().filter(|f| f.value == "Unmasked") {
        sink.emit("VGL-A035", &f.loc, name, "/proc is mounted unmasked".into());
    }
    // Ports.
    for p in &c.ports {
        if k8s && p.host_port.is_some() {
            sink.emit(
                "VGL-A025",
                &p.loc,
                name,
                format!("hostPort {}", p.host_port.unwrap_or(0)),
            );
        }
        if let Some(hp) = p.host_port.filter(|h| *h > 0 && *h < 1024) {
            sink.emit(
                "VGL-A026",
                &p.loc,
                name,
                format!("host port {hp} is privileged"),
            );
        }
        if p.container_port == Some(22) || p.host_port == Some(22) {
            sink.emit("VGL-A027", &p.loc, name, "port 22 (ssh) exposed".into());
        }
        if !k8s
            && p.host_port.is_some()
            && p.host_ip
                .as_deref()
                .is_none_or(|ip| ip == "0.0.0.0" || ip == "::")
        {
            sink.emit(
                "VGL-A039",
                &p.loc,
                name,
                format!(
                    "host port {} listens on all interfaces",
                    p.host_port.unwrap_or(0)
                ),
            );
        }
    }
    // Mounts (Kubernetes hostPath volumes are checked at the volume).
    for m in &c.mounts {
        if let Some(p) = &m.propagation {
            if matches!(p.as_str(), "shared" | "rshared" | "Bidirectional") {
                sink.emit(
                    "VGL-A041",
                    &m.loc,
                    name,
                    format!("mount {} uses {p} propagation", m.target),
                );
            }
        }
        if m.kind != MountKind::Host {
            continue;
        }
        let src = m.source.as_deref().unwrap_or("");
        if !k8s {
            if is_runtime_socket(src) {
                sink.emit(
                    "VGL-A018",
                    &m.loc,
                    name,
                    format!("mounts the runtime socket {src}"),
                );
            } else if is_sensitive_host_path(src) {
                sink.emit(
                    "VGL-A017",
                    &m.loc,
                    name,
                    format!("mounts sensitive host path {src} at {}", m.target),
                );
            }
        }
        if !m.read_only {
            sink.emit(
                "VGL-A019",
                &m.loc,
                name,
                format!("host path {src} is mounted writable at {}", m.target),
            );
        }
    }
    for d in &c.devices {
        sink.emit(
            "VGL-A036",
            &d.loc,
            name,
            format!("host device {} exposed", d.value),
        );
    }
    // Environment.
    for e in &c.env {
        if e.from_secret {
            sink.emit(
                "VGL-A040",
                &e.loc,
                name,
                format!("secret exposed as environment variable {}", e.name),
            );
            continue;
        }
        let Some(v) = &e.value else { continue };
        if let Some(m) = secrets::check_assignment(&e.name, v) {
            let shown = secrets::redact(v.get(m.start..m.end).unwrap_or(v));
            let id = if m.kind == secrets::SecretKind::NamedSecret {
                "VGL-A030"
            } else {
                "VGL-A029"
            };
            sink.emit(
                id,
                &e.loc,
                name,
                format!("{}: {} ({shown})", e.name, m.kind.description()),
            );
        }
    }
    // Image references matter where they are deployed from, not for running containers.
    if w.platform != Platform::Engine {
        if let Some(img) = &c.image {
            check_image(&img.value, &img.loc, name, sink);
        }
    }
}

/// Tag and digest checks for an image reference (shared with the Dockerfile `FROM` check).
pub fn check_image(image: &str, loc: &Loc, container: Option<&str>, sink: &mut Sink<'_>) {
    if image.contains('$') || image == "scratch" {
        return;
    }
    let (_, tag, digest) = parse_image(image);
    if digest.is_none() {
        match tag {
            None => sink.emit(
                "VGL-A031",
                loc,
                container,
                format!("image {image} has no tag (means :latest)"),
            ),
            Some("latest") => sink.emit(
                "VGL-A031",
                loc,
                container,
                format!("image {image} uses :latest"),
            ),
            _ => {}
        }
        sink.emit(
            "VGL-A032",
            loc,
            container,
            format!("image {image} is not pinned by digest"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate check IDs");
        for c in CHECKS {
            assert!(c.id.starts_with("VGL-A") && c.id.len() == 8, "{}", c.id);
            assert!(!c.title.is_empty() && !c.rationale.is_empty() && !c.remediation.is_empty());
        }
    }

    #[test]
    fn image_parsing() {
        assert_eq!(parse_image("nginx"), ("nginx", None, None));
        assert_eq!(parse_image("nginx:1.25"), ("nginx", Some("1.25"), None));
        assert_eq!(
            parse_image("localhost:5000/app"),
            ("localhost:5000/app", None, None)
        );
        assert_eq!(
            parse_image("r.io/a/b:2@sha256:ab"),
            ("r.io/a/b", Some("2"), Some("sha256:ab"))
        );
    }

    #[test]
    fn sensitive_paths() {
        for p in [
            "/",
            "/etc",
            "/etc/kubernetes/",
            "/proc",
            "/sys/fs",
            "/dev",
            "/var/lib/docker",
            "//",
        ] {
            assert!(is_sensitive_host_path(p), "{p}");
        }
        for p in [
            "/data",
            "/var/log",
            "/srv/app",
            "/usr/share/zoneinfo",
            "/home/app/cache",
        ] {
            assert!(!is_sensitive_host_path(p), "{p}");
        }
        assert!(is_runtime_socket("/var/run/docker.sock"));
        assert!(is_runtime_socket("/run/containerd/containerd.sock"));
        assert!(!is_runtime_socket("/var/run"));
    }
}
