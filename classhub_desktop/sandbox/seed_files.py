"""Student uploads of the demo data: rows, review comments and the real files under the files directory.

Files are tiny but real: a one-page PDF, a small PNG, a plain-text file. Injected defects: files of
deleted uploads and abandoned partial uploads stay on disk without a row (orphans), and ~2.5 % of
the rows are failed uploads (upload_failed = true, no file, no checksum).
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from classhub_desktop.core.progress import CancelToken
from classhub_desktop.sandbox.seed_common import Clock, rng_for
from classhub_desktop.sandbox.seed_model import Kid
from classhub_desktop.sandbox.seed_names import ascii_fold

UPLOAD_COLUMNS = (
    "id",
    "student_id",
    "teacher_id",
    "block_id",
    "title",
    "description",
    "file_path",
    "sha256",
    "size_bytes",
    "mime_type",
    "status",
    "grade",
    "reviewer_id",
    "reviewed_at",
    "submission_version",
    "upload_failed",
    "version",
    "created_at",
    "updated_at",
)
COMMENT_COLUMNS = ("id", "upload_id", "author_id", "decision", "body", "submission_version", "created_at")
MIME = {"pdf": "application/pdf", "png": "image/png", "txt": "text/plain"}
TOPICS = (
    "The Water Cycle",
    "My Family History",
    "Photosynthesis",
    "The American Revolution",
    "Volcanoes",
    "Fractions in the Kitchen",
    "Ancient Egypt",
    "Climate Change",
    "The Solar System",
    "Simple Machines",
    "Monarch Butterflies",
    "Immigration Stories",
    "Newton's Laws",
    "The Civil Rights Movement",
    "Rainforests",
)
BOOKS = (
    "Charlotte's Web",
    "Wonder",
    "Holes",
    "The Giver",
    "Esperanza Rising",
    "Hatchet",
    "Bridge to Terabithia",
    "To Kill a Mockingbird",
    "The Outsiders",
    "Inside Out & Back Again",
    "A Long Walk to Water",
)
TITLES = {
    "pdf": ("Essay: {t}", "Lab report: {t}", "Book report: {b}", "Research paper: {t}", "Worksheet {n}: {t}"),
    "png": ("Poster: {t}", "Drawing: {t}", "Photo of worksheet {n}", "Diagram: {t}"),
    "txt": ("Reading log week {n}", "Journal entry: {t}", "Vocabulary list {n}", "Reflection: {b}"),
}
SENTENCES = (
    "I learned that small changes can add up to big differences over time.",
    "First I made a hypothesis, then I tested it three times and wrote down the results.",
    "The most surprising part was how many people were involved.",
    "My favourite character changed the most by the end of the story.",
    "Next time I would measure more carefully and use a bigger sample.",
    "This connects to what we discussed in class last week.",
    "I used two books from the library and one website as sources.",
)
COMMENTS = {
    "approved": ("Great work, well organised.", "Nice job! Clear explanation.", "Excellent effort, approved."),
    "rejected": (
        "This is the wrong assignment, please upload the right file.",
        "The file is unreadable.",
        "Copied text without sources; please talk to me.",
    ),
    "needs_revision": (
        "Good start. Please add a conclusion.",
        "Please cite your sources.",
        "Check the spelling and resubmit.",
        "Missing the second part of the worksheet.",
    ),
}
GRADES = ("A", "A", "A-", "B+", "B", "B", "B-", "C+", "C", "92/100", "88/100", "Meets standard")


@dataclass
class Uploads:
    rows: list[tuple[object, ...]] = field(default_factory=list)
    comments: list[tuple[object, ...]] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # relative paths (POSIX)
    failed: list[int] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (relative path, content)

    def write(self, path: str, data: bytes) -> None:
        self.files.append((path, data))


def _pdf_text(text: str) -> bytes:
    try:
        raw = text.encode("cp1252")
    except UnicodeEncodeError:
        raw = ascii_fold(text).encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def pdf_bytes(title: str, lines: Sequence[str]) -> bytes:
    """A valid one-page PDF 1.4 (Helvetica, WinAnsiEncoding) with a correct xref table."""
    body = [b"BT /F1 16 Tf 72 730 Td (" + _pdf_text(title) + b") Tj ET", b"BT /F1 11 Tf 72 700 Td 15 TL"]
    body += [b"(" + _pdf_text(line) + b") Tj T*" for line in lines]
    body.append(b"ET")
    stream = b"\n".join(body)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title (" + _pdf_text(title) + b") /Producer (ClassHub sandbox) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(key: int, width: int = 48, height: int = 32) -> bytes:
    """A valid small RGB PNG: a colour gradient with a stripe, different for every key."""
    r, g, b = key * 37 % 256, key * 91 % 256, key * 53 % 256
    stripe = key % height
    rows = []
    for y in range(height):
        colour = bytes(((r + 4 * y) % 256, (g + 2 * y) % 256, (b + 7 * y) % 256))
        line = colour * width if y != stripe else b"\xff\xff\xff" * width
        rows.append(b"\x00" + line)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _png_chunk(b"IEND", b"")
    )


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", ascii_fold(title).lower()).strip("-")[:40]


def _content(kind: str, key: int, title: str, kid: Kid, block: str, when: datetime, lines: list[str]) -> bytes:
    if kind == "png":
        return png_bytes(key)
    header = [f"Student: {kid.first} {kid.last}", f"Class: {block}", f"Submitted: {when:%Y-%m-%d}", ""]
    if kind == "pdf":
        return pdf_bytes(title, header + lines)
    return ("\n".join([title, "", *header, *lines]) + "\n").encode("utf-8")


def write_files(root: Path, files: Sequence[tuple[str, bytes]], cancel: CancelToken) -> None:
    """Write the files with plain open() (the caller removes them if the seed fails)."""
    for folder in sorted({path.rpartition("/")[0] for path, _ in files}):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index, (path, data) in enumerate(files):
        with open(root / path, "wb") as handle:
            handle.write(data)
        if index % 2000 == 1999:
            cancel.raise_if_cancelled()


def build_uploads(
    seed: int,
    clock: Clock,
    kids: Sequence[Kid],
    block_teacher: dict[int, int],
    block_name: dict[int, str],
    teacher_user: dict[int, int],
) -> Uploads:
    """About one upload per eight students: the rows, and the files to write (`Uploads.files`)."""
    rng = rng_for(seed, "uploads")
    result = Uploads()

    real = [kid for kid in kids if kid.kind != "demo" and kid.blocks]
    drafts = []
    for _ in range(max(20, len(real) // 8)):
        kid = real[int(rng.random() * len(real))]
        assert kid.created_at is not None
        block = kid.blocks[int(rng.random() * len(kid.blocks))]
        kind = rng.choices(("pdf", "png", "txt"), (45, 30, 25))[0]
        title = rng.choice(TITLES[kind]).format(t=rng.choice(TOPICS), b=rng.choice(BOOKS), n=rng.randint(1, 12))
        start = max(kid.created_at, clock.window_start)
        created = clock.school_day_time(rng, start, clock.t0 - timedelta(hours=1))
        drafts.append((created, kid, block, kind, title))
    drafts.sort(key=lambda d: (d[0], d[1].id))
    upload_id = 0
    for position, (created, kid, block, kind, title) in enumerate(drafts):
        upload_id += 1
        lines = rng.sample(SENTENCES, 3)
        if rng.random() < 1 / 60:  # a deleted upload whose file stayed on disk
            path = f"uploads/{created:%Y/%m}/{upload_id:07d}-{_slug(title)}.{kind}"
            result.write(path, _content(kind, upload_id, title, kid, block_name[block], created, lines))
            result.orphans.append(path)
            upload_id += 1
        teacher = block_teacher[block]
        path = f"uploads/{created:%Y/%m}/{upload_id:07d}-{_slug(title)}.{kind}"
        description = rng.choice((None, None, f"For {block_name[block]}", "Final version", "Resubmitted"))
        failed = rng.random() < 0.025 or position == 1  # at least one, even in a tiny seed
        digest: str | None = None
        size: int | None = None
        status = "submitted"
        grade = reviewer = reviewed = None
        version = submission_version = 1
        updated = created
        if failed:  # the upload broke off: a row without a file
            result.failed.append(upload_id)
        else:
            data = _content(kind, upload_id, title, kid, block_name[block], created, lines)
            result.write(path, data)
            digest, size = hashlib.sha256(data).hexdigest(), len(data)
            recent = created > clock.t0 - timedelta(days=7)
            status = (
                "submitted"
                if recent and rng.random() < 0.8
                else rng.choices(("submitted", "approved", "rejected", "needs_revision"), (20, 50, 10, 20))[0]
            )
        if status != "submitted":
            reviewer = teacher_user[teacher]
            reviewed = min(created + timedelta(hours=rng.randint(1, 240)), clock.t0 - timedelta(minutes=10))
            updated, version = reviewed, 2
            if status == "approved" and rng.random() < 0.2:  # approved after one revision
                first = created + (reviewed - created) / 3
                result.comments.append(
                    (0, upload_id, reviewer, "needs_revision", rng.choice(COMMENTS["needs_revision"]), 1, first)
                )
                submission_version, version = 2, 4
            if status == "approved":
                grade = rng.choice(GRADES)
            elif status == "rejected" and rng.random() < 0.4:
                grade = "F"
            result.comments.append(
                (0, upload_id, reviewer, status, rng.choice(COMMENTS[status]), submission_version, reviewed)
            )
        result.rows.append(
            (
                upload_id,
                kid.id,
                teacher,
                block,
                title,
                description,
                path,
                digest,
                size,
                MIME[kind],
                status,
                grade,
                reviewer,
                reviewed,
                submission_version,
                failed,
                version,
                created,
                updated,
            )
        )
    for _ in range(max(2, len(result.rows) // 400)):  # abandoned partial uploads
        token = "".join(rng.choice("0123456789abcdef") for _ in range(12))
        path = f"uploads/tmp/upload-{token}.part"
        result.write(path, png_bytes(rng.randrange(1 << 20))[: rng.randint(20, 200)])
        result.orphans.append(path)
    result.comments.sort(key=lambda row: (row[-1], row[1]))
    result.comments = [(index, *row[1:]) for index, row in enumerate(result.comments, start=1)]
    result.orphans.sort()
    return result
