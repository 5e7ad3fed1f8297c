"""Planning a bulk OCR job: inputs expanded, every document opened once, pages listed.

:func:`plan` turns what a user names — files, directories (walked recursively), glob
patterns and ``@manifest`` files (one path per line, ``#`` comments, relative paths
relative to the manifest) — into one :class:`~arli.ocr.job.tasks.PageTask` per page, in a
stable order (inputs in the order given, a directory's files sorted). Every input that
yields no page becomes a :class:`~arli.ocr.job.tasks.FileFailure` with its cause: nothing
is skipped silently and no input stops the others. The same document named twice is
planned once (documents are identified by the SHA-256 of their bytes).

Nothing here sends a request, so a bad page selection or an unreadable file is known
before the job pays for anything.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from arli._errors import ArliValidationError, OCRDependencyError, OCRSourceError
from arli.ocr.job.tasks import FileFailure, JobOptions, PageTask
from arli.ocr.job.textlayer import judge
from arli.ocr.render import PdfDocument, RenderOptions, open_document
from arli.ocr.sources import OCRSource, parse_page_spec, select_pages

__all__ = ["expand_inputs", "file_digest", "output_names", "plan"]

_GLOB_CHARS = frozenset("*?[")


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes (16 hex digits), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _manifest(path: Path) -> Iterator[str]:
    base = path.parent
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        item = Path(line).expanduser()
        yield str(item if item.is_absolute() else base / item)


def expand_inputs(
    inputs: Iterable[str | os.PathLike[str]],
) -> tuple[list[tuple[Path, Path]], list[FileFailure]]:
    """Files named by ``inputs``, each with the root its output name is relative to.

    Returns:
        ``([(file, root), ...], failures)``: a directory's files are relative to the
        directory, a glob's to the part before its first wildcard, a file to its folder.
    """
    found: list[tuple[Path, Path]] = []
    failures: list[FileFailure] = []
    for item in inputs:
        text = os.fspath(item)
        if text.startswith("@"):
            manifest = Path(text[1:]).expanduser()
            try:
                names = list(_manifest(manifest))
            except (OSError, UnicodeDecodeError) as exc:
                failures.append(FileFailure(text, "unreadable", f"cannot read {manifest}: {exc}"))
                continue
            more, bad = expand_inputs(names)
            found += more
            failures += bad
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            files = list(_walk(path))
            if not files:
                failures.append(FileFailure(text, "no_match", f"{text} holds no file"))
            found += [(f, path) for f in files]
        elif path.exists() or path.is_symlink():
            found.append((path, path.parent))
        elif _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                failures.append(FileFailure(text, "no_match", f"no file matches {text}"))
            head = Path(text.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0])
            root = head if text.endswith(("/", os.sep)) or head.is_dir() else head.parent
            found += [(f, root) for f in files]
        elif "://" in text[:12]:
            failures.append(
                FileFailure(text, "unreadable", "the bulk job reads local files; download URLs")
            )
        else:
            failures.append(FileFailure(text, "missing", f"no such file: {text}"))
    return found, failures


def output_names(files: Sequence[tuple[Path, Path]]) -> list[str]:
    """A unique output name per file: its path relative to its root, suffix dropped."""
    names: list[str] = []
    used: set[str] = set()
    for path, root in files:
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            rel = Path(path.name)
        name = rel.with_suffix("").as_posix() or path.stem
        candidate, n = name, 2
        while candidate.lower() in used:
            candidate = f"{name}-{n}"
            n += 1
        used.add(candidate.lower())
        names.append(candidate)
    return names


def _cause(exc: OCRSourceError) -> str:
    text = str(exc)
    if "no such file" in text:
        return "missing"
    if "not a supported document" in text or "image; supported formats" in text:
        return "not_a_document"
    if "encrypted" in text or "password" in text:
        return "encrypted"
    if "has no pages" in text:
        return "no_pages"
    return "unreadable"


def plan(
    inputs: Iterable[str | os.PathLike[str]], options: JobOptions
) -> tuple[list[PageTask], list[FileFailure]]:
    """Every page of the job as a task, and every input that yields none as a failure.

    Opens each document once (page count, page labels, and text layers when
    ``options.text_layer`` is not ``"never"`` or ``anchor_text_layer`` is set); sends nothing.

    Raises:
        ArliValidationError: a bad option (a page selection that is not one).
        OCRDependencyError: Pillow or pypdfium2 is missing.
    """
    spec = parse_page_spec(options.pages)
    files, failures = expand_inputs(inputs)
    names = output_names(files)
    fingerprint = options.fingerprint()
    password = options.password.get_secret_value() if options.password else None
    render = RenderOptions(dpi=options.dpi)
    tasks: list[PageTask] = []
    seen: set[str] = set()
    index = 0
    for (path, _root), name in zip(files, names, strict=True):
        shown = str(path)
        try:
            doc_id = file_digest(path)
        except OSError as exc:
            failures.append(FileFailure(shown, "unreadable", f"{shown} could not be read: {exc}"))
            continue
        doc_id = hashlib.sha256(f"{doc_id}\0{name}".encode()).hexdigest()[:16]
        resolved = str(path.resolve())
        if resolved in seen:
            continue
        try:
            source = OCRSource(name=shown, path=path)
            with open_document(source, password=password, options=render) as document:
                try:
                    numbers = select_pages(spec, document.page_count, source=shown)
                except ArliValidationError as exc:
                    failures.append(FileFailure(shown, "pages", str(exc)))
                    continue
                labels = {n: document.label(n) for n in numbers}
                layers: dict[int, str] = {}
                uses_layers = options.text_layer != "never" or options.anchor_text_layer
                if uses_layers and isinstance(document, PdfDocument):
                    layers = {n: document.text_layer(n) for n in numbers}
                count, kind = document.page_count, document.kind
        except OCRDependencyError:
            raise
        except OCRSourceError as exc:
            failures.append(FileFailure(shown, _cause(exc), str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - a broken file is that file's failure
            failures.append(FileFailure(shown, "unreadable", f"{shown}: {exc}"))
            continue
        seen.add(resolved)
        for number in numbers:
            layer = layers.get(number) or None
            ok = judge(layer)[0] if layer is not None else False
            wanted = ok or options.text_layer == "fallback" or options.anchor_text_layer
            keep = layer if wanted else None
            tasks.append(
                PageTask(
                    doc_id=doc_id,
                    doc_index=index,
                    source=resolved,
                    name=name,
                    page=number,
                    page_count=count,
                    kind=kind,
                    page_label=labels[number],
                    fingerprint=fingerprint,
                    text_layer=keep,
                    text_layer_ok=ok,
                )
            )
        index += 1
    return tasks, failures
