"""Administration of the rule files: a form per entry (checklist step, deadline, platform, removal signs).

The pages live on the admin blueprint (endpoints ``admin.rules``, ``admin.rule_file`` …), in their own module
so the rule files do not crowd the user and unit pages. TOML stays the storage and upload format: a form
changes one entry, the whole file is written with tomli-w and checked by the real loaders together with the
other files in force (``tracker.accounts.rule_files.save_rule_entry``, which also refuses anyone but an admin and
writes the audit event). Letters are Jinja templates and are still edited as text.
"""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from storage.models import Role
from tracker.accounts import rule_files as ops
from tracker.errors import NotFound
from webui.admin import FILE_HINTS, KINDS, bp
from webui.db import perform, runtime
from webui.demo_mail import DEMO_KEY
from webui.forms.admin import ActionForm
from webui.forms.rules import ENTRY_FORMS, RuleFileForm
from webui.labels import IN_FORCE_KEY, PLATFORMS_KEY, RULES_KEY
from webui.roles import me, role_required

#: what the list of entries calls each TOML file's entries
ENTRY_NAMES = {"response": "step", "deadlines": "deadline", "platforms": "platform", "removal-signs": "platform"}


def _override_dir():
    return ops.override_dir(runtime().settings.data_dir)


def _rule_file_or_404(file_id: str) -> ops.RuleFile:
    try:
        return ops.rule_file(file_id)
    except NotFound:
        abort(404)


def _use(in_force: ops.InForce) -> None:
    """The running app uses the new files from the next request on (in the demo: with its Facebook alias)."""
    demo = current_app.extensions.get(DEMO_KEY)
    if demo is not None:
        in_force = demo.in_force(in_force)
    current_app.extensions[RULES_KEY] = in_force.rules
    current_app.extensions[PLATFORMS_KEY] = in_force.directory
    current_app.extensions[IN_FORCE_KEY] = in_force
    runtime().use_in_force(in_force)


def init_app(app) -> None:
    """Before each request, use the rule files another process on this data directory saved (another `vaern serve`
    behind the same proxy): Runtime.refresh_in_force looks at the files every few seconds."""

    @app.before_request
    def _rule_files_saved_elsewhere() -> None:
        rt = runtime()
        rt.refresh_in_force()  # a worker thread in this process may have loaded them already
        if rt.in_force is not current_app.extensions.get(IN_FORCE_KEY):
            _use(rt.in_force)


def _not_loaded() -> tuple[ops.LoadProblem | None, ops.RuleFile | None]:
    """The last look at the files on disk found one that does not load (the versions in use are kept): the problem
    and the file it names (None if it names none we list)."""
    problem = runtime().load_problem
    if problem is None:
        return None, None
    return problem, next((f for f in ops.rule_files() if f.name == problem.file), None)


def _entry_rows(file: ops.RuleFile, entries: list[dict]) -> list[tuple[str, str, str]]:
    """(id, what it is called, its kind or order) per entry, for the list on the file's page."""
    if file.id == "removal-signs":
        names = {p.id: p.name for p in current_app.extensions[PLATFORMS_KEY].platforms}
        return [(e["id"], names.get(e["id"], e["id"]), "") for e in entries if "id" in e]
    if file.id == "response":
        kinds = {"checklist": _("Checklist"), "ladder": _("Takedown ladder"), "alternative": _("Alternative")}
        return [(e["id"], e.get("label_da", e["id"]), f"{kinds.get(e.get('kind'), e.get('kind'))} {e.get('order', '')}")
                for e in entries if "id" in e]
    label = "name" if file.id == "platforms" else "label_da"
    return [(e["id"], e.get(label, e["id"]), "") for e in entries if "id" in e]


@bp.get("/admin/rules")
@role_required(Role.admin)
def rules():
    odir = _override_dir()
    files = [(f, f.override(odir).is_file()) for f in ops.rule_files()]
    problem, problem_file = _not_loaded()
    return render_template("admin/rules.html", files=files, kinds=KINDS, problem=problem, problem_file=problem_file)


@bp.route("/admin/rules/<file_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def rule_file(file_id: str):
    """The file's entries with a form each; replace the whole file by upload (or, for a letter, as text)."""
    file = _rule_file_or_404(file_id)
    odir = _override_dir()
    error, pasted = None, None
    form = RuleFileForm()
    if form.validate_on_submit():
        pasted = None if form.uploaded() else form.content.data
        outcome = perform(ops.save_rule_file, me(), odir, file, form.new_content())
        if outcome:
            _use(outcome.value)
            flash(_("The file is saved and in use now."), "ok")
            return redirect(url_for("admin.rule_file", file_id=file.id))
        error = outcome.error.message
    elif form.is_submitted():
        error = _("The form has expired. Try again.")
    view = ops.view_rule_file(odir, file)
    rows = _entry_rows(file, ops.entries_of(odir, file)) if file.id in ENTRY_FORMS else None
    problem, problem_file = _not_loaded()
    return render_template("admin/rule_file.html", view=view, kinds=KINDS, error=error, rows=rows,
                           problem=problem if problem_file == file else None, problem_file=problem_file,
                           hint=FILE_HINTS.get(file.kind), pasted=view.text if pasted is None else pasted), (
        400 if error else 200)


@bp.get("/admin/rules/<file_id>/download")
@role_required(Role.admin)
def rule_download(file_id: str):
    """The file in force as it is stored, to edit elsewhere and upload again."""
    file = _rule_file_or_404(file_id)
    view = ops.view_rule_file(_override_dir(), file)
    filename = file.name.rsplit("/", 1)[-1]
    return Response(view.text, mimetype="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/admin/rules/<file_id>/entries/<entry_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def rule_entry(file_id: str, entry_id: str):
    """One entry's form: the fields with Danish labels; a refused value is shown next to its field."""
    file = _rule_file_or_404(file_id)
    form_class = ENTRY_FORMS.get(file.id)
    if form_class is None:
        abort(404)
    odir = _override_dir()
    try:
        entry = ops.rule_entry(odir, file, entry_id)
    except NotFound:
        abort(404)
    form = form_class()
    if file.id == "response":
        deadlines = ops.entries_of(odir, ops.rule_file("deadlines"))
        form.set_deadlines({d["id"]: d.get("label_da", d["id"]) for d in deadlines if "id" in d})
    if file.id == "platforms":
        form.is_fallback = bool(entry.get("fallback"))
    error = None
    if request.method == "GET":
        form.fill(entry)
    elif form.validate_on_submit():
        outcome = perform(ops.save_rule_entry, me(), odir, file, entry_id, form.changes())
        if outcome:
            _use(outcome.value)
            flash(_("The change is saved and in use now."), "ok")
            return redirect(url_for("admin.rule_file", file_id=file.id))
        error = outcome.error.message
    failed = request.method == "POST"
    return render_template("admin/rule_entry.html", file=file, entry=entry, entry_id=entry_id, form=form,
                           error=error, kind_name=ENTRY_NAMES[file.id]), (400 if failed else 200)


@bp.post("/admin/rules/<file_id>/revert")
@role_required(Role.admin)
def rule_revert(file_id: str):
    file = _rule_file_or_404(file_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    outcome = perform(ops.revert_rule_file, me(), _override_dir(), file)
    if outcome:
        _use(outcome.value)
        flash(_("The shipped file is in use again."), "ok")
    else:
        flash(_("The shipped file does not fit the other files in use, so nothing was changed: %(error)s",
                error=outcome.error.message), "error")
    return redirect(url_for("admin.rule_file", file_id=file.id))
