"""The verification gate behind ``make verify``: run every proof, every must-fail check, and fuzzing.

Each step runs one tool on one file in a subprocess with its own time limit, and states what must
happen: ``proved`` (the tool accepts the file) or ``rejected`` (the tool must refuse the
deliberately wrong file *for the right reason*: Nagini reports a failed verification rather than a
translation error, z3 finds a counterexample to every claim, CrossHair reports a counterexample).
The gate fails if any proof fails or times out, or any wrong file is accepted.

Usage::

    python verify/run.py --nagini .venv-nagini/bin/nagini [--fuzz-seconds 20] [--jobs 2]
                         [--json out/verify.json] [--only nagini,z3,crosshair,pytest,fuzz]

Run from the repository root with the project's virtual environment (z3, CrossHair and atheris
come from its ``verify`` extra); Nagini runs from its own environment.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERIFY = ROOT / "verify"

#: Nagini proofs: file -> seconds allowed (one specification variant once looped forever).
NAGINI_PROVED = {
    "verify/nagini/field.py": 600,
    "verify/nagini/shamir.py": 600,
    "verify/nagini/codec.py": 900,
    "verify/nagini/budget.py": 600,
}
NAGINI_WRONG = {"verify/wrong/nagini_field.py": 600}
Z3_PROVED = {
    "verify/z3/field_kernels.py": 300,
    "verify/z3/shamir_algebra.py": 300,
    "verify/z3/codec_primitives.py": 300,
}
Z3_WRONG = {"verify/wrong/z3_shamir.py": 300}
#: CrossHair: each named function must be "Confirmed over all paths" (and no other may exist there).
CROSSHAIR_PROVED = {"verify/crosshair/targets.py": 600}
CROSSHAIR_FUNCTIONS = {
    "verify/crosshair/targets.py": [
        "shamir_degree1_round_trip",
        "shamir_degree2_round_trip",
        "budget_spend_never_overspends",
        "budget_compose_only_grows",
        "codec_encode_u16_contract",
        "codec_encode_u32_contract",
    ]
}
CROSSHAIR_WRONG = {"verify/wrong/crosshair_shamir.py": 300}
FUZZ_TARGETS = sorted(str(p.relative_to(ROOT)) for p in (VERIFY / "fuzz").glob("fuzz_*.py"))


@dataclass
class Step:
    """One tool run and what it must conclude."""

    tool: str
    path: str
    expect: str  # "proved" or "rejected"
    cmd: list[str]
    timeout_seconds: float
    env: dict[str, str] = field(default_factory=dict)
    outcome: str = "not run"
    ok: bool = False
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    detail: str = ""
    output: str = ""


def _env(*paths: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [*(str(ROOT / p) for p in paths), env.get("PYTHONPATH", "")]
    )
    return env


def _judge_nagini(step: Step, rc: int) -> None:
    if "Verification successful" in step.output and rc == 0:
        step.outcome = "proved"
    elif "Verification failed" in step.output:
        step.outcome = "rejected"
        errors = [
            ln for ln in step.output.splitlines() if "might not hold" in ln or "might fail" in ln
        ]
        step.detail = errors[0].strip() if errors else ""
    else:
        step.outcome = "error"  # e.g. "Translation failed": not a verdict about the code
        step.detail = step.output.strip().splitlines()[-1] if step.output.strip() else f"exit {rc}"


def _judge_z3(step: Step, rc: int) -> None:
    try:
        report = json.loads(step.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        step.outcome, step.detail = "error", step.output.strip()[-300:]
        return
    statuses = [c["status"] for c in report["claims"]]
    if report["ok"] and rc == 0:
        step.outcome = "proved"
        step.detail = f"{len(statuses)} claims proved"
    elif statuses and all(s == "refuted" for s in statuses):
        step.outcome = "rejected"
        step.detail = f"counterexample: {report['claims'][0]['counterexample']}"
    else:
        step.outcome = "error"
        bad = [c for c in report["claims"] if c["status"] != "proved"]
        step.detail = "; ".join(f"{c['name']}: {c['status']}" for c in bad[:3])


def _defined_functions(path: Path) -> dict[int, str]:
    tree = ast.parse(path.read_text())
    return {n.lineno: n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def _judge_crosshair(step: Step, rc: int) -> None:
    functions = _defined_functions(ROOT / step.path)
    confirmed, errors = set(), []
    for line in step.output.splitlines():
        m = re.match(r"(.+?):(\d+): (info|error): (.*)", line)
        if not m:
            continue
        if m.group(3) == "info" and "Confirmed over all paths" in m.group(4):
            confirmed.add(functions.get(int(m.group(2)), f"line {m.group(2)}"))
        elif m.group(3) == "error":
            errors.append(f"line {m.group(2)}: {m.group(4)}")
    named = set(CROSSHAIR_FUNCTIONS.get(step.path, functions.values()))
    if step.expect == "proved" and named != set(functions.values()):
        step.outcome = "error"
        step.detail = f"functions in the file {sorted(functions.values())} are not the named list"
        return
    missing = sorted(named - confirmed)
    if not errors and not missing:
        step.outcome, step.detail = "proved", f"{len(confirmed)} functions confirmed over all paths"
    elif errors and any("when calling" in e for e in errors):
        step.outcome, step.detail = "rejected", errors[0]
    else:
        step.outcome = "not confirmed"
        step.detail = "; ".join(errors[:2]) or f"not confirmed over all paths: {', '.join(missing)}"


def _judge_exit(step: Step, rc: int) -> None:
    step.outcome = "proved" if rc == 0 else "failed"
    tail = [ln for ln in step.output.strip().splitlines() if ln.strip()]
    step.detail = tail[-1][:200] if tail else f"exit {rc}"


JUDGES = {"nagini": _judge_nagini, "z3": _judge_z3, "crosshair": _judge_crosshair}


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_step(step: Step) -> Step:
    """Run one step, record its outcome and whether it matches what was expected."""
    start, cpu_start = time.perf_counter(), _children_cpu_seconds()
    try:
        proc = subprocess.run(
            step.cmd,
            cwd=ROOT,
            env=step.env or None,
            capture_output=True,
            text=True,
            timeout=step.timeout_seconds,
            check=False,
        )
        step.output = proc.stdout + proc.stderr
        JUDGES.get(step.tool, _judge_exit)(step, proc.returncode)
    except subprocess.TimeoutExpired:
        step.outcome, step.detail = "timeout", f"no verdict within {step.timeout_seconds:.0f} s"
    step.seconds = time.perf_counter() - start
    # Exact per step with --jobs 1; with parallel jobs it may include a neighbour that ended.
    step.cpu_seconds = _children_cpu_seconds() - cpu_start
    step.ok = step.outcome == step.expect
    return step


def build_steps(args: argparse.Namespace) -> list[Step]:
    """Return every step of the gate, longest first (Nagini) so that parallel jobs finish together."""
    py = sys.executable
    steps: list[Step] = []
    for group, expect in ((NAGINI_PROVED, "proved"), (NAGINI_WRONG, "rejected")):
        for path, limit in group.items():
            steps.append(Step("nagini", path, expect, [args.nagini, path], limit))
    for group, expect in ((Z3_PROVED, "proved"), (Z3_WRONG, "rejected")):
        for path, limit in group.items():
            steps.append(
                Step("z3", path, expect, [py, path, "--json"], limit, _env("src", "verify/z3"))
            )
    for group, expect in ((CROSSHAIR_PROVED, "proved"), (CROSSHAIR_WRONG, "rejected")):
        for path, limit in group.items():
            cmd = [
                py,
                "-m",
                "crosshair",
                "check",
                "--analysis_kind=asserts",
                "--report_all",
                "--per_condition_timeout=120",
                path,
            ]
            steps.append(Step("crosshair", path, expect, cmd, limit, _env("src", "verify")))
    steps.append(
        Step(
            "pytest",
            "tests/verify",
            "proved",
            [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/verify"],
            600,
            _env("src"),
        )
    )
    for path in FUZZ_TARGETS:
        cmd = [
            py,
            path,
            f"-max_total_time={args.fuzz_seconds}",
            "-print_final_stats=1",
            f"-artifact_prefix={ROOT / 'out' / 'fuzz'}/",
        ]
        steps.append(
            Step("fuzz", path, "proved", cmd, args.fuzz_seconds + 120, _env("src", "verify"))
        )
    if args.only:
        wanted = set(args.only.split(","))
        steps = [s for s in steps if s.tool in wanted]
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nagini", default=str(ROOT / ".venv-nagini" / "bin" / "nagini"))
    parser.add_argument("--fuzz-seconds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", default=str(ROOT / "out" / "verify.json"))
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    (ROOT / "out" / "fuzz").mkdir(parents=True, exist_ok=True)
    steps = build_steps(args)
    start, cpu_start = time.perf_counter(), _children_cpu_seconds()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for step in pool.map(run_step, steps):
            mark = "ok  " if step.ok else "FAIL"
            print(
                f"{mark} {step.tool:9} {step.path:38} {step.outcome:13} (expected {step.expect:8})"
                f" {step.seconds:6.1f} s ({step.cpu_seconds:5.1f} s CPU)  {step.detail}",
                flush=True,
            )
    wall, cpu = time.perf_counter() - start, _children_cpu_seconds() - cpu_start
    per_tool: dict[str, float] = {}
    per_tool_cpu: dict[str, float] = {}
    for s in steps:
        per_tool[s.tool] = per_tool.get(s.tool, 0.0) + s.seconds
        per_tool_cpu[s.tool] = per_tool_cpu.get(s.tool, 0.0) + s.cpu_seconds
    failed = [s for s in steps if not s.ok]
    report = {
        "ok": not failed,
        "wall_seconds": round(wall, 1),
        "jobs": args.jobs,
        "cpu_seconds": round(cpu, 1),
        "tool_seconds": {k: round(v, 1) for k, v in per_tool.items()},
        "tool_cpu_seconds": {k: round(v, 1) for k, v in per_tool_cpu.items()},
        "steps": [
            {
                k: getattr(s, k)
                for k in (
                    "tool",
                    "path",
                    "expect",
                    "outcome",
                    "ok",
                    "seconds",
                    "cpu_seconds",
                    "detail",
                )
            }
            for s in steps
        ],
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(
        f"verify: {len(steps) - len(failed)} of {len(steps)} steps as expected in {wall:.0f} s wall, "
        f"{cpu:.0f} s CPU (per tool, wall summed / CPU: "
        f"{', '.join(f'{k} {v:.0f} / {per_tool_cpu[k]:.0f} s' for k, v in per_tool.items())})"
    )
    for s in failed:
        print(f"--- {s.tool} {s.path}: {s.outcome}, expected {s.expect}\n{s.output[-3000:]}")
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
