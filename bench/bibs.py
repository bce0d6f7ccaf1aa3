"""Benchmark: the batch bib PDF for Jakarta's finale (5,000 runners) against two references.

Self-contained, no server or database (``.venv/bin/python bench/bibs.py``); it stops by
itself. Each round runs every variant in a fresh child process, side by side, and reads
the child's own peak RSS (``ru_maxrss``):

* ``funrun``: ``funrun.bibs.pdf.batch_pdf`` with ``BibFace`` objects signed by a
  ``BibSigner`` (the code the CLI and the print jobs run), to a file;
* ``straightforward``: the same page drawn with reportlab's canvas, one QR per bib
  encoded by segno (level M, automatic mask selection) and drawn as one vector
  rectangle per dark module, all in one filled path (PERF-NOTES: ~120 bibs/s);
* ``text_only``: ``batch_pdf`` without the QR, the ceiling (signing included, as above);
* ``funrun_small``: ``funrun`` for a tenth of the count, to show the memory is flat.

Then it checks the funrun PDF is right, not only fast: ``pdfinfo`` page count, and a
sample of pages (every 250th and the last) rendered at 150 dpi by ``pdftoppm`` and
decoded by zxing-cpp, each equal to the payload signed for that bib and verifying. A
few pages of the straightforward PDF are decoded too (the reference must be valid).

Writes ``bench/results/bibs-<timestamp>.json`` and prints a table with the ratios.
Exits 1 when a check of the output fails; the goals (3x the straightforward way,
5,000 bibs under 15 s, flat memory) are reported, not enforced (shared, noisy machines).
segno (the reference encoder) is a dev dependency, installed by ``make setup``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from datetime import time as clock
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

EVENT_ID = 11  # Jakarta, the tour's finale
#: A fixed, obviously fake signing key: the bench signs synthetic bibs only.
BENCH_SEED = bytes(range(100, 132))
VARIANTS = ("funrun", "straightforward", "text_only")

GOAL_RATIO = 3.0  # funrun at least 3x the straightforward way
GOAL_SECONDS = 15.0  # 5,000 bibs
GOAL_FLAT_MIB = 15.0  # peak RSS growth from count/10 to count

FIRST = ["Budi", "Siti", "Agus", "Dewi", "Rizky", "Putri", "Andi", "Nur", "Eko", "Wulan"]
LAST = ["Santoso", "Rahmawati", "Saputra", "Lestari", "Hidayat", "Kusuma", "Nasution"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]


# --- what every variant prints -----------------------------------------------------------


def event_look() -> Any:
    from funrun.bibs.pdf import EventLook

    return EventLook(
        name="Fun Run Jakarta",
        city="Jakarta",
        date=date(2015, 12, 13),
        start_time=clock(6, 0),
        venue="Lapangan Monas, Jakarta Pusat",
        colour="#0A7A3D",
        prefix="JKT",
    )


def signer() -> Any:
    from nacl.signing import SigningKey

    from funrun.bibs.signing import BibSigner

    return BibSigner(SigningKey(BENCH_SEED))


def runner(number: int) -> tuple[str, str]:
    """A runner's name and shirt size, varied like real data."""
    name = f"{FIRST[number % len(FIRST)]} {LAST[(number // len(FIRST)) % len(LAST)]}"
    return name, SIZES[number % len(SIZES)]


def faces(count: int) -> Iterator[Any]:
    """Bibs 1..count, signed as they are needed (as the database stream does)."""
    from funrun.bibs.pdf import BibFace

    sign = signer().sign
    for number in range(1, count + 1):
        name, size = runner(number)
        yield BibFace(number, name, size, sign(EVENT_ID, number))


# --- the variants, each run in a child process -------------------------------------------


def run_funrun(count: int, out: Path, *, with_qr: bool) -> int:
    from funrun.bibs.pdf import batch_pdf

    with out.open("wb") as handle:
        return batch_pdf(event_look(), faces(count), handle, with_qr=with_qr)


def run_straightforward(count: int, out: Path) -> int:
    """reportlab canvas + segno (automatic mask), a rectangle per dark module in one path."""
    import segno
    from reportlab.pdfgen.canvas import Canvas

    from funrun.bibs.pdf import BIB_SIZE, MM, QR_SIDE, QUIET_ZONE, _date_text

    look = event_look()
    width, height = BIB_SIZE
    canvas = Canvas(str(out), pagesize=BIB_SIZE, pageCompression=1)
    pages = 0
    for face in faces(count):
        canvas.setFillColor(look.colour)
        canvas.rect(0, height - 24 * MM, width, 24 * MM, stroke=0, fill=1)
        canvas.rect(0, 0, width, 10 * MM, stroke=0, fill=1)
        canvas.setFillColor("#FFFFFF")
        canvas.setFont("Helvetica-Bold", 20)
        canvas.drawString(10 * MM, height - 14 * MM, look.name.upper())
        canvas.setFont("Helvetica", 11)
        canvas.drawString(
            10 * MM,
            height - 20 * MM,
            f"{look.city} - {_date_text(look.date)} - Start {look.start_time:%H.%M}",
        )
        canvas.setFont("Helvetica", 9)
        canvas.drawString(10 * MM, 3.5 * MM, look.venue)
        canvas.setFillColor("#000000")
        canvas.setFont("Helvetica-Bold", 30)
        canvas.drawString(10 * MM, height - 40 * MM, look.prefix)
        canvas.setFont("Helvetica-Bold", 110)
        canvas.drawString(8 * MM, 42 * MM, f"{face.bib_number:04d}")
        canvas.setFont("Helvetica-Bold", 15)
        canvas.drawString(10 * MM, 24 * MM, face.full_name.upper()[:34])
        canvas.setFont("Helvetica", 10)
        canvas.drawString(10 * MM, 17 * MM, f"Kaus / Shirt: {face.shirt_size}")

        qr = segno.make(face.payload, error="m", boost_error=False, micro=False)
        matrix = qr.matrix
        size = len(matrix)
        module = QR_SIDE / size
        x0, y0 = width - QR_SIDE - 10 * MM, 16 * MM
        border = QUIET_ZONE * module
        canvas.setFillColor("#FFFFFF")
        canvas.rect(x0 - border, y0 - border, QR_SIDE + 2 * border, QR_SIDE + 2 * border, 0, 1)
        canvas.setFillColor("#000000")
        path = canvas.beginPath()  # one filled path: cheaper than a fill per module
        for row, cells in enumerate(matrix):
            y = y0 + QR_SIDE - (row + 1) * module
            for col, dark in enumerate(cells):
                if dark:
                    path.rect(x0 + col * module, y, module, module)
        canvas.drawPath(path, stroke=0, fill=1)
        canvas.showPage()
        pages += 1
    canvas.save()
    return pages


def child(variant: str, count: int, out: Path) -> None:
    """Run one variant and print its figures as JSON (peak RSS is this process's own)."""
    sys.path.insert(0, str(ROOT))
    event_look(), signer()  # imports outside the timed part, as in a running app
    if variant == "straightforward":
        import segno  # noqa: F401
        from reportlab.pdfgen.canvas import Canvas  # noqa: F401
    started = time.perf_counter()
    if variant in ("funrun", "funrun_small"):
        pages = run_funrun(count, out, with_qr=True)
    elif variant == "text_only":
        pages = run_funrun(count, out, with_qr=False)
    elif variant == "straightforward":
        pages = run_straightforward(count, out)
    else:
        raise SystemExit(f"unknown variant {variant}")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "variant": variant,
                "bibs": pages,
                "seconds": seconds,
                "bibs_per_s": pages / seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024,
                "pdf_bytes": out.stat().st_size,
            }
        )
    )


def spawn(variant: str, count: int, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--count", str(count), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- checking the output -------------------------------------------------------------------


def pdf_pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise ValueError("pdfinfo gave no page count")


def decode_pages(path: Path, pages: list[int], scratch: Path) -> dict[int, list[str]]:
    """Render each page at 150 dpi with pdftoppm and decode its QR codes with zxing-cpp."""
    import zxingcpp
    from PIL import Image

    found = {}
    for page in pages:
        prefix = scratch / f"{path.stem}-{page}"
        pages_arg = ["-f", str(page), "-l", str(page), "-singlefile"]
        subprocess.run(
            ["pdftoppm", "-r", "150", "-png", *pages_arg, str(path), str(prefix)], check=True
        )
        with Image.open(f"{prefix}.png") as image:
            codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        found[page] = [code.text for code in codes]
        Path(f"{prefix}.png").unlink()
    return found


def check_output(path: Path, count: int, every: int, scratch: Path) -> dict[str, Any]:
    """Page count and a sample of decoded QRs, compared with the payloads signed per bib."""
    from funrun.bibs.signing import Verdict

    bench_signer = signer()
    pages = pdf_pages(path)
    sample = sorted({*range(1, count + 1, every), count})
    decoded = decode_pages(path, sample, scratch)
    bad = []
    for page, texts in decoded.items():
        expected = bench_signer.sign(EVENT_ID, page)  # page n is bib n, in bib order
        verdict = bench_signer.verify(texts[0], EVENT_ID) if texts else None
        if texts != [expected] or verdict is None or verdict.verdict != Verdict.VALID:
            bad.append({"page": page, "decoded": texts})
    return {
        "pages": pages,
        "pages_ok": pages == count,
        "sampled": len(sample),
        "decoded_ok": len(sample) - len(bad),
        "failures": bad,
    }


# --- the parent: rounds, medians, ratios, results ------------------------------------------


def median(rounds: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def versions() -> dict[str, str]:
    found = {}
    for name in ("zxing-cpp", "segno", "reportlab", "pynacl", "pillow"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    for tool in ("pdftoppm",):
        done = subprocess.run([tool, "-v"], capture_output=True, text=True, check=False)
        found[tool] = (done.stderr or done.stdout).splitlines()[0] if done.returncode == 0 else "?"
    return found


def print_table(summary: dict[str, Any]) -> None:
    rows = summary["variants"]
    print()
    print(f"{summary['count']:,} bibs, median of {summary['rounds']} rounds")
    print(f"{'variant':<16} {'bibs/s':>8} {'seconds':>8} {'peak MiB':>9} {'x straightfwd':>14}")
    for name in ("funrun", "straightforward", "text_only", "funrun_small"):
        if name not in rows:
            continue
        row = rows[name]
        print(
            f"{name:<16} {row['bibs_per_s']:>8.0f} {row['seconds']:>8.2f} "
            f"{row['peak_rss_mib']:>9.1f} {row['ratio_to_straightforward']:>14.2f}"
        )
    goals = summary["goals"]
    print()
    print(
        f"funrun / straightforward: {goals['ratio_to_straightforward']:.2f}x "
        f"(goal >= {GOAL_RATIO:.0f}x: {'yes' if goals['ratio_met'] else 'NO'})"
    )
    print(f"funrun / text-only ceiling: {summary['variants']['funrun']['ratio_to_ceiling']:.2f}")
    print(
        f"{summary['count']:,} bibs in {goals['funrun_seconds']:.1f} s "
        f"(goal < {GOAL_SECONDS:.0f} s: {'yes' if goals['seconds_met'] else 'NO'})"
    )
    print(
        f"peak RSS growth {summary['small_count']:,} -> {summary['count']:,} bibs: "
        f"{goals['memory_growth_mib']:.1f} MiB "
        f"(goal < {GOAL_FLAT_MIB:.0f}: {'yes' if goals['memory_flat'] else 'NO'})"
    )
    check = summary["check"]
    print(
        f"funrun PDF: {check['pages']} pages; QR decoded at 150 dpi on "
        f"{check['decoded_ok']}/{check['sampled']} sampled pages"
    )
    ref = summary["reference_check"]
    print(f"straightforward PDF: QR decoded on {ref['decoded_ok']}/{ref['sampled']} sampled pages")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="bibs per batch (5000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, medians reported (3)")
    parser.add_argument("--sample-every", type=int, default=250, help="decode every Nth page")
    parser.add_argument("--child", choices=(*VARIANTS, "funrun_small"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, args.count, args.out)
        return 0
    sys.path.insert(0, str(ROOT))
    try:
        import segno  # noqa: F401
    except ImportError:
        print("the reference needs segno: .venv/bin/pip install segno", file=sys.stderr)
        return 2

    small = max(args.count // 10, 1)
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, Any]]] = {v: [] for v in (*VARIANTS, "funrun_small")}
    with tempfile.TemporaryDirectory(prefix="funrun-bench-bibs-") as tmp:
        scratch = Path(tmp)
        for number in range(1, args.rounds + 1):
            # Rotate the order so no variant always runs first (warm caches, load drift).
            order = VARIANTS[number % 3 :] + VARIANTS[: number % 3]
            for variant in order:
                result = spawn(variant, args.count, scratch / f"{variant}.pdf")
                rounds[variant].append(result)
                print(
                    f"round {number} {variant:<16} {result['bibs_per_s']:>7.0f} bibs/s "
                    f"{result['seconds']:>6.2f} s {result['peak_rss_mib']:>7.1f} MiB",
                    flush=True,
                )
            result = spawn("funrun_small", small, scratch / "funrun_small.pdf")
            rounds["funrun_small"].append(result)
        check = check_output(scratch / "funrun.pdf", args.count, args.sample_every, scratch)
        reference_check = check_output(
            scratch / "straightforward.pdf", args.count, max(args.count // 4, 1), scratch
        )
    load_after = os.getloadavg()

    straightforward = median(rounds["straightforward"], "bibs_per_s")
    ceiling = median(rounds["text_only"], "bibs_per_s")
    variants = {}
    for name, runs in rounds.items():
        rate = median(runs, "bibs_per_s")
        variants[name] = {
            "bibs": runs[0]["bibs"],
            "bibs_per_s": rate,
            "seconds": median(runs, "seconds"),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "pdf_bytes": runs[0]["pdf_bytes"],
            "ratio_to_straightforward": rate / straightforward,
            "ratio_to_ceiling": rate / ceiling,
            "rounds": runs,
        }
    funrun = variants["funrun"]
    growth = funrun["peak_rss_mib"] - variants["funrun_small"]["peak_rss_mib"]
    goals = {
        "ratio_to_straightforward": funrun["ratio_to_straightforward"],
        "ratio_met": funrun["ratio_to_straightforward"] >= GOAL_RATIO,
        "funrun_seconds": funrun["seconds"],
        "seconds_met": funrun["seconds"] < GOAL_SECONDS * args.count / 5000,
        "memory_growth_mib": growth,
        "memory_flat": growth < GOAL_FLAT_MIB,
        "qr_decodes": check["decoded_ok"] == check["sampled"] and check["pages_ok"],
    }
    summary = {
        "benchmark": "bibs",
        "started_at": started_at.isoformat(),
        "count": args.count,
        "small_count": small,
        "rounds": args.rounds,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "versions": versions(),
        },
        "variants": variants,
        "goals": goals,
        "check": check,
        "reference_check": reference_check,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"bibs-{started_at:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print_table(summary)
    print(f"\nwrote {out.relative_to(ROOT)}")
    ok = goals["qr_decodes"] and reference_check["decoded_ok"] == reference_check["sampled"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
