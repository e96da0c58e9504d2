"""SMTP throughput: outreach's SMTP transport, mailmerge and smtp-source against smtp-sink.

    python bench/smtp_throughput.py [--supporters 100000] [--sample 10000] [--connections 4]
                                    [--processes CORES] [--repeat 3]
                                    [--campaign demo|personalized|both]

Needs postfix's `smtp-sink` and `smtp-source` (Debian package `postfix`; its daemon need
not run) and `mailmerge` (PyPI). For each campaign (`bench/fixtures.py`: the demo, and one
whose post names the supporter's city and whose email branches on two fields), in a
temporary folder holding it, it imports N synthetic supporters into SQLite with
`outreach supporters import`, then runs `outreach run --once` (store, ledger, dispatch,
rendering: the whole code path) for the campaign's one due reminder:

1. to the outbox: rendering, MIME and bookkeeping with no network (through
   `bench/counting.py`, which counts the renderings);
2. over SMTP to smtp-sink (OUTREACH_PROCESSES processes, each with
   OUTREACH_SMTP_CONNECTIONS connections).

Then, on the first `--sample` emails of the outbox:

3. the two halves of the SMTP run apart, on emails already composed: building the MIME
   bytes (`build_message`), then the SMTP transport sending those bytes;
4. mailmerge on the same messages (given as UTF-8 text, which it encodes itself);
5. `smtp-source -s 8`, N messages of the same average size: the ceiling.

The SMTP runs (of each campaign) and smtp-source take turns `--repeat` times and the best
run of each counts
(a shared machine's other tenants slow some runs down; the best run is the least
disturbed). It prints messages per second, each process's peak RSS (a helper process's
own, for outreach's), and the two ratios the issue sets targets for. Figures, not a test.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from fixtures import CAMPAIGNS, city, copy_campaign, member_since

from outreach.messages import Content, OutgoingEmail
from outreach.transports.smtp import SmtpTransport, smtp_data
from outreach.transports.smtp_config import SmtpConfig

REPO = Path(__file__).resolve().parent.parent
NOW = "2018-03-02T04:00:00Z"  # the demo's two-weeks-before reminder is due everywhere
CAMPAIGN, REMINDER = "mexico-refugees", "two-weeks-before"
COLUMNS = ["email", "first_name", "last_name", "city", "region", "language", "consent"]
COLUMNS += ["consent_date", "member_since"]
REGIONS = ["NL", "NS", "NB", "PE", "QC", "ON", "MB", "SK", "AB", "BC"]
FIRST = ["Amélie", "Jean-François", "Fiona", "Li", "María", "Olúwadé", "Geneviève", "Ahmed"]
LAST = ["Tremblay", "MacDonald", "Nguyen", "Santos", "Côté", "O'Brien", "Singh", "Roy"]


@dataclass
class Figure:
    """One contender's result."""

    name: str
    messages: int
    seconds: float
    peak_rss_mb: float | None

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        rate = self.rate
        rss = f"{self.peak_rss_mb:>6.0f} MB" if self.peak_rss_mb is not None else "     -"
        return (
            f"{self.name:<44} {self.messages:>7} msgs {self.seconds:>7.1f} s "
            f"{rate:>7.0f} msg/s  peak RSS {rss}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kilobytes = next(
        (line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")), "0"
    )
    return int(kilobytes) / 1024


def children(pid: int) -> list[int]:
    """The processes `pid` started (outreach's helper processes)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Run a command to completion: wall seconds, peak RSS in MB, stdout.

    The peak is sampled from /proc while the command runs (wait4's figure would count the
    pages of this Python process that the child shares between fork and exec).
    """
    started = time.perf_counter()
    peak = 0.0
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, text=True)
        while process.poll() is None:
            peak = max(peak, *(peak_rss_mb(pid) for pid in [process.pid, *children(process.pid)]))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}… failed (exit {process.returncode})")
    return seconds, peak, output


def write_supporters(path: Path, count: int) -> None:
    """`count` consenting supporters across Canada, a third of them in French."""
    pick = random.Random(2018)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for i in range(count):
            language = "fr" if i % 3 == 0 else "en"
            first, last, region = pick.choice(FIRST), pick.choice(LAST), pick.choice(REGIONS)
            row = [f"s{i}@example.net", first, last, city(i), region, language, "express"]
            out.writerow([*row, "2017-06-01", member_since(i)])


def outreach(
    folder: Path, *args: str, counted: bool = False, **env: str
) -> tuple[float, float, str]:
    """`outreach ARGS` in the folder, with only the settings given here (`counted`: through
    bench/counting.py, which prints the renderings)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
    environment = {**clean, "OUTREACH_PUBLIC_URL": "https://act.example.org", **env}
    environment["OUTREACH_SECRET_KEY"] = "bench-secret-of-at-least-32-bytes-long"
    program = [str(Path(__file__).with_name("counting.py"))] if counted else ["-m", "outreach.cli"]
    return run([sys.executable, *program, *args], cwd=folder, env=environment)


def sink(port: int) -> subprocess.Popen[bytes]:
    """smtp-sink on loopback, accepting everything (as `nobody` when we are root)."""
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(["/usr/sbin/smtp-sink", *user, f"127.0.0.1:{port}", "1000"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("smtp-sink did not start")


def parsed(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def outgoing(path: Path) -> OutgoingEmail:
    """The email an outbox .eml was made from, as dispatch hands it to a transport."""
    message = parsed(path)
    sender, recipient = message["From"].addresses[0], message["To"].addresses[0]
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return OutgoingEmail(
        supporter_id=int(path.stem),
        campaign=CAMPAIGN,
        reminder=REMINDER,
        to_email=recipient.addr_spec,
        to_name=recipient.display_name,
        from_email=sender.addr_spec,
        from_name=sender.display_name,
        content=Content(str(message["Subject"]), text.get_content(), html.get_content()),
        language=str(message["Content-Language"]),
        message_id=str(message["Message-ID"]),
        headers={k: str(message[k]) for k in ("List-Unsubscribe", "List-Unsubscribe-Post")},
    )


def transport_alone(folder: Path, port: int, connections: int) -> None:
    """(Child process) time the MIME building, then the SMTP transport sending it as built."""
    emails = [outgoing(path) for path in sorted(folder.glob("*.eml"))]
    date = datetime.now(UTC)
    started = time.perf_counter()
    built = {email.supporter_id: smtp_data(email, date) for email in emails}
    building = time.perf_counter() - started
    config = SmtpConfig(host="127.0.0.1", port=port, security="none", connections=connections)
    smtp = SmtpTransport(config, lambda: date, encode=lambda email, _: built[email.supporter_id])
    started = time.perf_counter()
    for start in range(0, len(emails), smtp.batch_size):
        assert all(o.ok for o in smtp.send(emails[start : start + smtp.batch_size]))
    smtp.close()
    print(building, time.perf_counter() - started)


def as_mailmerge_template(path: Path) -> str:
    """The .eml as mailmerge takes a message: UTF-8 text, which it encodes itself."""
    message = parsed(path)
    lines = [f"{name}: {value}" for name, value in message.items()]
    boundary = message.get_boundary()
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        text = part.get_content().replace("\r\n", "\n")
        lines += ["", f"--{boundary}", f"Content-Type: {part.get_content_type()}", "", text]
    return "\n".join([*lines, f"--{boundary}--", ""])


def mailmerge(folder: Path, sample: list[Path], port: int) -> Figure:
    """mailmerge (one connection per message) on the sample, to the sink."""
    (folder / "template.txt").write_text("{{ message }}", encoding="utf-8")
    (folder / "server.conf").write_text(f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\n")
    with (folder / "database.csv").open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["message"])
        out.writerows([as_mailmerge_template(path)] for path in sample)
    options = ["--template", "template.txt", "--database", "database.csv"]
    command = ["mailmerge", "--no-dry-run", "--no-limit", "--output-format", "raw", *options]
    seconds, rss, _ = run([*command, "--config", "server.conf"], cwd=folder)
    return Figure("mailmerge (a connection per message)", len(sample), seconds, rss)


def smtp_source(count: int, size: int, port: int) -> Figure:
    """postfix's smtp-source, 8 parallel sessions: the ceiling of the sink."""
    addresses = ["-f", "info@example.org", "-t", "someone@example.net"]
    command = ["/usr/sbin/smtp-source", "-s", "8", "-m", str(count), "-l", str(size)]
    seconds, rss, _ = run([*command, *addresses, f"127.0.0.1:{port}"])
    return Figure("smtp-source -s 8 (the ceiling)", count, seconds, rss)


@dataclass
class Prepared:
    """One campaign's folder, its supporters imported and its emails in the outbox."""

    name: str
    folder: Path
    sample: Path
    size: int
    renderings: str


def prepare(folder: Path, name: str, count: int, sample_size: int, processes: int) -> Prepared:
    """Campaign `name` in `folder`, `count` supporters imported (setup), sent to the outbox."""
    copy_campaign(name, folder)
    write_supporters(folder / "supporters.csv", count)
    seconds, rss, _ = outreach(folder, "supporters", "import", "supporters.csv")
    print(Figure(f"{name}: outreach supporters import (setup)", count, seconds, rss).line())
    shutil.copy(folder / "outreach.db", folder / "fresh.db")
    seconds, rss, output = outreach(
        folder, "run", "--once", "--now", NOW, counted=True, OUTREACH_PROCESSES=str(processes)
    )
    label = f"{name}: outreach run -> outbox ({processes} processes)"
    print(Figure(label, count, seconds, rss).line())
    renderings = next(line for line in output.splitlines() if line.startswith("renderings"))
    emls = sorted((folder / "outbox" / CAMPAIGN / REMINDER).glob("*.eml"), key=lambda p: p.name)
    assert len(emls) == count, f"the outbox holds {len(emls)} emails, not {count}"
    sample = folder / "sample"
    sample.mkdir()
    for path in emls[:sample_size]:
        shutil.copy(path, sample / path.name)
    size = sum(p.stat().st_size for p in sample.iterdir()) // len(list(sample.iterdir()))
    return Prepared(name, folder, sample, size, renderings)


def bench(
    folder: Path,
    campaigns: list[str],
    count: int,
    sample_size: int,
    connections: int,
    processes: int,
    repeat: int,
) -> list[Figure]:
    """Every figure, for each campaign in a folder of its own."""
    prepared = [prepare(folder / name, name, count, sample_size, processes) for name in campaigns]
    size = sum(p.size for p in prepared) // len(prepared)
    port = free_port()
    sinking = sink(port)
    figures: list[Figure] = []
    try:
        smtp_env = {
            "OUTREACH_EMAIL_TRANSPORT": "smtp",
            "OUTREACH_PROCESSES": str(processes),
            "OUTREACH_SMTP_CONNECTIONS": str(connections),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_SECURITY": "none",
        }
        runs: dict[str, list[tuple[float, float]]] = {p.name: [] for p in prepared}
        ceilings = []
        for _ in range(repeat):  # turn about, so that all meet the same disturbances
            for campaign in prepared:
                shutil.copy(campaign.folder / "fresh.db", campaign.folder / "outreach.db")
                smtp = outreach(campaign.folder, "run", "--once", "--now", NOW, **smtp_env)
                runs[campaign.name].append(smtp[:2])
            ceilings.append(smtp_source(count, size, port))
        ceiling = min(ceilings, key=lambda figure: figure.seconds)
        for campaign in prepared:
            seconds, rss = min(runs[campaign.name])
            label = f"{campaign.name}: outreach run -> SMTP ({processes}x{connections})"
            smtp_run = Figure(f"{label}, best of {repeat}", count, seconds, rss)
            child = [sys.executable, __file__, "--transport-alone", str(campaign.sample)]
            _, rss, output = run([*child, str(port), str(connections)])
            build, send = (float(word) for word in output.split())
            messages = len(list(campaign.sample.iterdir()))
            merged = mailmerge(campaign.folder, sorted(campaign.sample.iterdir()), port)
            figures += [
                smtp_run,
                Figure("  MIME alone (smtp_data, each email on its own)", messages, build, None),
                Figure("  SMTP transport alone (MIME built before)", messages, send, rss),
                merged,
            ]
            print(f"{campaign.name}: average message {campaign.size} bytes; {campaign.renderings}")
            tries = ", ".join(f"{s:.1f} s" for s, _ in runs[campaign.name])
            print(f"{campaign.name}: SMTP runs {tries}")
            print(
                f"{campaign.name}: outreach SMTP / smtp-source -s 8: "
                f"{smtp_run.seconds / ceiling.seconds:.2f}x the time (target: at most 1.3x)"
            )
            whole = ""
            if merged.messages == count:  # the same emails: the whole commands compare
                whole = f"; the whole command {merged.seconds / smtp_run.seconds:.1f}x faster"
            print(
                f"{campaign.name}: outreach SMTP / mailmerge: {smtp_run.rate / merged.rate:.1f}x "
                f"the throughput{whole} (target: at least 3x)"
            )
        figures.append(ceiling)
    finally:
        sinking.terminate()
        sinking.wait()
    print(f"{count} supporters; {os.cpu_count()} CPUs")
    print(f"smtp-source runs: {', '.join(f'{f.seconds:.1f} s' for f in ceilings)}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--supporters", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=10_000, help="emails for mailmerge etc.")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections a process")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3, help="SMTP and smtp-source runs each")
    parser.add_argument("--campaign", choices=[*CAMPAIGNS, "both"], default="both")
    parser.add_argument("--transport-alone", nargs=3, metavar=("FOLDER", "PORT", "CONNECTIONS"))
    args = parser.parse_args()
    if args.transport_alone:
        folder, port, connections = args.transport_alone
        transport_alone(Path(folder), int(port), int(connections))
        return
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as temporary:
        figures = bench(
            Path(temporary),
            list(CAMPAIGNS) if args.campaign == "both" else [args.campaign],
            args.supporters,
            args.sample,
            args.connections,
            args.processes,
            args.repeat,
        )
    for figure in figures:
        print(figure.line())


if __name__ == "__main__":
    main()
