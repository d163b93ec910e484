"""Running the checks on local files."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from gateway.core.db import upgrade
from gateway.cli.common import load_settings, session as session_of


@click.command()
@click.option("--text", default="", help="the post text")
@click.option("--image", "images", multiple=True, type=click.Path(dir_okay=False), help="a photo; repeatable")
@click.option("--alt", "alts", multiple=True, help="alt text for the photo given before it; repeatable")
@click.option("--limit", default=280, show_default=True, help="the account's text limit")
@click.option("--out", type=click.Path(file_okay=False), help="folder for the clean renditions")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def check(text, images, alts, limit, out, as_json):
    """Run the checks on local files, without the queue or the database. Exit 0 pass/review, 1 block."""
    from workers.checks.run import PhotoIn, run_checks
    from workers.checks.photos import PhotoLimits

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
        photos.append(PhotoIn(f"photo {n + 1} ({Path(path).name})", data, alts[n] if n < len(alts) else ""))
    from consent_registry.registry import face_context, name_matcher
    from gateway.core.crypto import WrongKey
    from moderation.link_rules import link_policy

    upgrade(s.database_url)
    with session_of(s) as session:
        try:
            faces = face_context(session, s) if photos else None
        except WrongKey as exc:
            raise click.ClickException(f"the consent registry cannot be read: {exc}")
        names, links = name_matcher(session, s), link_policy(session, s)
    run = run_checks(text, photos, limit, PhotoLimits.from_settings(s), faces, names, links)
    result = {
        "verdict": run.verdict,
        "findings": [f.as_dict() for f in run.findings],
        "text": run.cleaned_text,
        "images": [],
        "links": run.links,
    }
    mis_ids = {}
    if faces:
        from consent_registry.models import Person

        with session_of(s) as session:
            mis_ids = dict(session.execute(select(Person.id, Person.mis_id)).all())
    for n, (path, photo) in enumerate(zip(images, run.photos)):
        output = None
        if out and photo.data:
            Path(out).mkdir(parents=True, exist_ok=True)
            output = str(Path(out) / f"{Path(path).stem}.clean.{'png' if photo.format == 'PNG' else 'jpg'}")
            Path(output).write_bytes(photo.data)
        shown = [{**face, "person": mis_ids.get(face["person"])} for face in photo.faces]
        result["images"].append({"input": path, "output": output, "width": photo.width, "height": photo.height,
                                 "faces": shown, "alt": run.alts[n] if n < len(run.alts) else None})
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"verdict: {run.verdict}")
        for f in run.findings:
            click.echo(f"  [{f.severity}] {f.subject}: {f.message}")
        if text:
            click.echo(f"text: {run.cleaned_text}")
        for image in result["images"]:
            click.echo(f"  {image['input']} -> {image['output'] or '(not written)'} {image['width']}x{image['height']}")
    sys.exit(1 if run.verdict == "block" else 0)
