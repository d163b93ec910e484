"""Running the checks on local files."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from consent_registry.models import Person
from gateway.cli.common import load_settings, session as session_of
from gateway.core.crypto import WrongKey
from gateway.core.db import upgrade
from gateway.platforms import PLATFORMS


@click.command()
@click.option("--text", default="", help="the post text")
@click.option("--image", "images", multiple=True, type=click.Path(dir_okay=False), help="a photo; repeatable")
@click.option("--alt", "alts", multiple=True, help="alt text for the photo given before it; repeatable")
@click.option("--limit", type=int, help="the account's text limit  [default: the network's own]")
@click.option("--platform", default="x", show_default=True, type=click.Choice(sorted(PLATFORMS)),
              help="the network whose way of counting text the limit is in")
@click.option("--out", type=click.Path(file_okay=False), help="folder for the clean renditions")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def check(text, images, alts, limit, platform, out, as_json):
    """Run the checks on local files, without the queue or the database. Exit 0 pass/review, 1 block."""
    # late: the checks load dlib and OpenCV (seconds), which other commands need not wait for
    from gateway.services.checking import check_draft, target
    from workers.checks.base import Draft, Photo

    if len(alts) > len(images):
        raise click.UsageError("each --alt belongs to the --image before it")
    if not text and not images:
        raise click.UsageError("give --text, --image or both")
    s = load_settings()
    photos = []
    for n, path in enumerate(images):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise click.UsageError(f"cannot read {path}: {exc.strerror}")
        photos.append(Photo.given(f"photo {n + 1} ({Path(path).name})", data, alts[n] if n < len(alts) else ""))
    upgrade(s.database_url)
    goes_to = target(platform, platform, limit or PLATFORMS[platform].max_text)
    try:
        outcome = check_draft(s, Draft(text, tuple(photos)), [goes_to])
    except WrongKey as exc:
        raise click.ClickException(f"the consent registry cannot be read: {exc}")
    result = {"verdict": outcome.verdict, "findings": [f.as_dict() for f in outcome.findings],
              "text": outcome.draft.text, "images": _images(s, images, outcome.draft.photos, out),
              "links": outcome.records["links"]}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"verdict: {outcome.verdict}")
        for f in outcome.findings:
            click.echo(f"  [{f.severity}] {f.subject}: {f.message}")
        if text:
            click.echo(f"text: {outcome.draft.text}")
        for image in result["images"]:
            click.echo(f"  {image['input']} -> {image['output'] or '(not written)'} {image['width']}x{image['height']}")
    sys.exit(1 if outcome.verdict == "block" else 0)


def _images(s, paths, photos, out) -> list[dict]:
    """Each photo as checked, its clean rendition written to `out`, its faces named by MIS id."""
    mis_ids = {}
    if any(photo.faces for photo in photos):
        with session_of(s) as session:
            mis_ids = dict(session.execute(select(Person.id, Person.mis_id)).all())
    images = []
    for path, photo in zip(paths, photos):
        output = None
        if out and photo.data:
            Path(out).mkdir(parents=True, exist_ok=True)
            output = str(Path(out) / f"{Path(path).stem}.clean.{'png' if photo.format == 'PNG' else 'jpg'}")
            Path(output).write_bytes(photo.data)
        shown = [{**face, "person": mis_ids.get(face["person"])} for face in photo.faces]
        images.append({"input": path, "output": output, "width": photo.width, "height": photo.height,
                       "faces": shown, "alt": photo.alt})
    return images
