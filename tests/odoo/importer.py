"""Odoo's import (`BaseModel.load`) for the emulator: the rows that name their record by
`.id`, which odoosync uses to write different values to many attachments in one call.

What Odoo 16-19 do (odoo/models.py `load`, `_convert_records`, ir.fields.converter), and
so what this does:
  - fields: column names; data: rows of strings, one per record. A row's `.id` must name a
    record the user can see, else "Unknown database identifier '<id>'" (an error).
  - an empty cell is False (`if not value: converted[field] = False`), a selection cell is
    one of the field's keys (or labels), a char / text / binary one is taken as it is.
  - each row is a `write` of its values on its record, with that write's checks.
  - any error of any row: nothing of any row is kept (the savepoint around the whole load
    is rolled back), and the answer is {"ids": False, "messages": [...]}; else "ids" are
    the rows' record ids in their order.
Rows without `.id` (records created, or named by external id) are not emulated: odoosync
never sends them, and this says so rather than guessing.

emulator.py calls load(E, env, model, fields, data) with itself as E (this module never
imports it, like documents.py).
"""


def _convert(E, model, name, value):
    """A cell's value as `write` takes it; raises ValueError with Odoo's message."""
    f = model.fields.get(name)
    if f is None:
        raise ValueError("Unknown field '%s'" % name)
    if not value:
        return False
    if f.type == "selection":
        for key, label in f.selection or ():
            if value in (key, label):
                return key
        raise ValueError("Value '%s' not found in selection field '%s'" % (value, name))
    if f.type == "integer":
        return int(value)
    if f.type == "float":
        return float(value)
    if f.type == "boolean":
        return value.lower() not in ("0", "false", "off", "no")
    if f.type in ("char", "text", "binary", "html"):
        return value
    raise E.UserError("emulator: importing a %s field (%s) is not emulated" % (f.type, name))


def load(E, env, model, fields, data):
    if not isinstance(fields, list) or not isinstance(data, list):
        raise E.py_error("TypeError", "load() fields and data must be lists")
    if ".id" not in fields or any(f in ("id", None) for f in fields):
        raise E.UserError("emulator: load without `.id` rows is not emulated")
    messages, ids = [], []
    gc_mark = len(env.gc)
    env.db.execute("SAVEPOINT model_load")
    for index, row in enumerate(data):
        rec = dict(zip(fields, row))
        raw = rec.pop(".id", None)
        try:
            dbid = int(raw)
        except (TypeError, ValueError):
            dbid = 0
        if not dbid or not E.existing_ids(env, model, [dbid]):
            messages.append({"type": "error", "record": index, "field": ".id", "rows": {},
                             "message": "Unknown database identifier '%s'" % raw})
            continue
        vals = {}
        for name, value in rec.items():
            try:
                vals[name] = _convert(E, model, name, value)
            except ValueError as exc:
                messages.append({"type": "error", "record": index, "field": name,
                                 "rows": {}, "message": str(exc)})
        if len(vals) != len(rec):
            continue
        env.db.execute("SAVEPOINT load_row")
        try:
            E.write_records(env, model, [dbid], vals)
        except E.OdooError as exc:
            env.db.execute("ROLLBACK TO load_row")
            messages.append({"type": "error", "record": index, "rows": {},
                             "message": exc.message})
        else:
            ids.append(dbid)
        env.db.execute("RELEASE load_row")
    if any(m["type"] == "error" for m in messages):
        env.db.execute("ROLLBACK TO model_load")
        del env.gc[gc_mark:]  # nothing written: the old contents stay referenced
        ids = False
    env.db.execute("RELEASE model_load")
    return {"ids": ids, "messages": messages, "nextrow": 0}
