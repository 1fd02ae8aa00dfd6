#!/usr/bin/python3
"""contrib_check: the deployment examples use zt as it is (tests/integration/contrib.sh).

usage: contrib_check.py ZT TOP_SRCDIR

Checks, printing "ok: ..." or "FAIL: ..." lines and exiting 1 when any check failed:
- contrib/cloud-run/service.yaml and contrib/kubernetes/deployment.yaml parse as YAML;
- every zt command in them (a container's command and args, an exec probe) names an applet and
  flags that `zt APPLET [COMMAND] --help` prints, and puts no secret on the command line;
- the zt access sidecar is what doc/tunnel.md says it must be: a TCP startup probe on the port
  of its --url, the app depending on it (Cloud Run) or it being a native sidecar (Kubernetes),
  the Client Secret from a secret (env valueFrom or a secret file of mode 0400/0600);
- every ExecStart= of contrib/systemd/*.service and every zt command of doc/deploy.md uses
  flags that exist, the same way.
"""
import glob
import os
import re
import shlex
import subprocess
import sys

import yaml

ZT, TOP = sys.argv[1], sys.argv[2]
failed = False
help_cache = {}
# Flags given on a command line that carry a secret: never in an example.
SECRET_FLAGS = {"--secret", "--service-token-secret", "--token"}


def ok(msg):
    print("ok: " + msg)


def fail(msg):
    global failed
    failed = True
    print("FAIL: " + msg)


def check(cond, msg):
    if cond:
        ok(msg)
    else:
        fail(msg)


def dnsmasq_options():
    """The dnsmasq options zt dns documents (zt-dns.8's "Fl -NAME" items)."""
    with open(os.path.join(TOP, "doc", "zt-dns.8")) as f:
        # "Fl -port" is --port, "Fl p" is -p.
        return {"-" + m for m in re.findall(r"\bFl (-?[A-Za-z0-9][A-Za-z0-9-]*)", f.read())}


def help_text(words):
    """The --help output of zt WORDS..., e.g. ["access", "tcp"]."""
    key = tuple(words)
    if key not in help_cache:
        r = subprocess.run([ZT] + list(words) + ["--help"], capture_output=True, text=True)
        help_cache[key] = r.stdout + r.stderr if r.returncode == 0 else None
    return help_cache[key]


def flag_known(flag, text):
    return re.search(r"(^|[\s\[|,(])" + re.escape(flag) + r"($|[\s\]|,=)])", text, re.M) is not None


def zt_argv(argv):
    """The argv of zt, the applet first, from a command that runs zt, or None."""
    for i, w in enumerate(argv):
        base = os.path.basename(w)
        if base == "zt":
            return argv[i + 1:]
        m = re.fullmatch(r"zt-([a-z]+)", base)
        if m and ("/" in w or i == 0 or argv[i - 1] == "--"):
            return [m.group(1)] + argv[i + 1:]
    return None


def check_command(where, argv):
    """Checks one command line that runs zt; returns its zt argv."""
    zargv = zt_argv(argv)
    if zargv is None or not zargv:
        fail("%s: not a zt command: %s" % (where, " ".join(argv)))
        return None
    applet = zargv[0]
    sub = [applet]
    if len(zargv) > 1 and not zargv[1].startswith("-"):
        sub.append(zargv[1])
    text = help_text(sub) or help_text([applet])
    if text is None:
        fail("%s: zt %s --help fails: no such applet?" % (where, " ".join(sub)))
        return zargv
    extra = dnsmasq_options() if applet == "dns" else set()
    bad = []
    for w in zargv[1:]:
        if not w.startswith("-") or w == "-":
            continue
        flag = w.split("=", 1)[0]
        if flag in SECRET_FLAGS:
            fail("%s: %s puts a secret on the command line" % (where, flag))
        if not flag_known(flag, text) and flag not in extra:
            bad.append(flag)
    if bad:
        fail("%s: zt %s has no flag %s (see zt %s --help)" % (where, " ".join(sub),
             ", ".join(bad), " ".join(sub)))
    else:
        ok("%s: zt %s: every flag exists" % (where, " ".join(sub)))
    return zargv


def flag_value(zargv, flag):
    for i, w in enumerate(zargv):
        if w == flag and i + 1 < len(zargv):
            return zargv[i + 1]
        if w.startswith(flag + "="):
            return w.split("=", 1)[1]
    return None


def containers(spec):
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            yield kind, c


def check_access_sidecar(where, c, zargv, volumes):
    url = flag_value(zargv, "--url") or flag_value(zargv, "--listener")
    check(url is not None and url.startswith("127.0.0.1:"),
          "%s: the sidecar listens on loopback only (--url %s)" % (where, url))
    probe = (c.get("startupProbe") or {}).get("tcpSocket")
    port = url.rsplit(":", 1)[1] if url else None
    check(probe is not None and str(probe.get("port")) == port,
          "%s: a TCP startup probe on the sidecar's port %s" % (where, port))
    env = {e["name"]: e for e in c.get("env") or []}
    sfile = flag_value(zargv, "--secret-file")
    if sfile is None:
        e = env.get("ZT_ACCESS_CLIENT_SECRET")
        check(e is not None and "valueFrom" in e and "value" not in e,
              "%s: the Client Secret comes from a secret ($ZT_ACCESS_CLIENT_SECRET valueFrom)"
              % where)
    else:
        mounts = [m for m in c.get("volumeMounts") or [] if sfile.startswith(m["mountPath"] + "/")]
        check(len(mounts) == 1, "%s: --secret-file %s is on a mounted volume" % (where, sfile))
    for name in ("ZT_ACCESS_CLIENT_SECRET", "ZT_ACCESS_CLIENT_ID"):
        if name in env:
            check("value" not in env[name], "%s: %s is not written in the file" % (where, name))
    for v in volumes:
        sec = v.get("secret")
        if sec is not None and "defaultMode" in sec:
            check(sec["defaultMode"] in (0o400, 0o600),
                  "%s: secret volume %s has mode 0400 or 0600" % (where, v["name"]))


def check_yaml(path):
    rel = os.path.relpath(path, TOP)
    try:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        fail("%s is not valid YAML: %s" % (rel, e))
        return []
    ok("%s parses as YAML (%d documents)" % (rel, len(docs)))
    return [(rel, d) for d in docs]


def pod_template(doc):
    spec = doc.get("spec") or {}
    return spec.get("template") or {}


def yaml_examples():
    sidecars = 0
    for path in (os.path.join(TOP, "contrib", "cloud-run", "service.yaml"),
                 os.path.join(TOP, "contrib", "kubernetes", "deployment.yaml")):
        for rel, doc in check_yaml(path):
            tmpl = pod_template(doc)
            pspec = tmpl.get("spec") or {}
            names = [c["name"] for _, c in containers(pspec)]
            for kind, c in containers(pspec):
                where = "%s: %s %s" % (rel, doc.get("kind"), c["name"])
                cmds = []
                argv = list(c.get("command") or []) + list(c.get("args") or [])
                if "zt" in c.get("image", "").rsplit("/", 1)[-1].split(":")[0]:
                    cmds.append(("container", argv))
                for p in ("startupProbe", "readinessProbe", "livenessProbe"):
                    ex = (c.get(p) or {}).get("exec")
                    if ex and zt_argv(ex["command"]) is not None:
                        cmds.append((p, ex["command"]))
                for what, cmd in cmds:
                    zargv = check_command("%s %s" % (where, what), cmd)
                    if what != "container" or not zargv or zargv[:2] != ["access", "tcp"]:
                        continue
                    sidecars += 1
                    check_access_sidecar(where, c, zargv, pspec.get("volumes") or [])
                    if doc.get("kind") == "Deployment":
                        check(kind == "initContainers" and c.get("restartPolicy") == "Always",
                              "%s: a native sidecar (initContainer, restartPolicy Always)" % where)
                    else:
                        ann = (tmpl.get("metadata") or {}).get("annotations") or {}
                        deps = ann.get("run.googleapis.com/container-dependencies")
                        dep = yaml.safe_load(deps) if deps else {}
                        check(any(c["name"] in v for v in dep.values()) and
                              all(k in names for k in dep),
                              "%s: the app depends on the sidecar "
                              "(run.googleapis.com/container-dependencies)" % where)
    check(sidecars >= 2, "the YAML examples hold %d zt access sidecars" % sidecars)


def logical_lines(text):
    """Lines of text with backslash continuations joined."""
    out, cur = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    if cur:
        out.append(cur)
    return out


def unit_files():
    for path in sorted(glob.glob(os.path.join(TOP, "contrib", "systemd", "*.service"))):
        rel = os.path.relpath(path, TOP)
        with open(path) as f:
            for line in logical_lines(f.read()):
                m = re.match(r"(ExecStart|ExecStartPre|ExecReload)=[-@:+!]*(.*)", line)
                if not m or "/zt" not in m.group(2):
                    continue
                argv = shlex.split(m.group(2).replace("%", "PCT"))
                check_command("%s %s" % (rel, m.group(1)), argv)


def deploy_doc():
    path = os.path.join(TOP, "doc", "deploy.md")
    n = 0
    with open(path) as f:
        text = f.read()
    for line in logical_lines(text):
        if not line.startswith("    "):
            continue
        code = line.split(" #", 1)[0].strip()
        code = re.sub(r"^(Exec[A-Za-z]*=[-@:+!]*|[$#] )", "", code).strip()
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", code):
            try:
                argv = shlex.split(part)
            except ValueError:
                continue
            if not argv:
                continue
            # Commands that run zt: zt ..., zt-APPLET ..., /usr/local/bin/zt ..., and the same
            # after runuser -u USER --.
            if argv[0] == "runuser" and "--" in argv:
                argv = argv[argv.index("--") + 1:]
            if not argv or not re.fullmatch(r"(/usr(/local)?/bin/)?zt(-[a-z]+)?", argv[0]):
                continue
            n += 1
            check_command("doc/deploy.md: %s" % part[:60], argv)
    check(n >= 10, "doc/deploy.md has %d zt commands, all checked" % n)


yaml_examples()
unit_files()
deploy_doc()
sys.exit(1 if failed else 0)
