"""The compose model: load compose files exactly as Docker Compose v2 does.

Loading is a list of named stages, each a plain function in its own module,
run in order by ``loader.py``. Per file (and per YAML document):

  parse        parse.parse_yaml(text, file) -> [Document]    YAML 1.2, positions, !reset/!override
  interpolate  interpolate.interpolate_document(doc, env)     ${VAR} grammar + type casts, in place
  include      include.apply_include(...)                     include: entries, each its own project
  extends      extends.apply_extends(...)                     extends: service / file
  schema       schema.validate_document(doc)                  jsonschema, errors at file:line:col
  merge        merge.merge_document(model, doc)               per-field rules, !reset/!override, unicity

Then on the merged model:

  profiles     profiles.apply_profiles(model, active, targeted)
  validate     validate.check_model(model, locator)           undefined refs, conflicts, syntax
  normalize    normalize.normalize(model, ctx)                short -> long syntax, names, paths, env
  model        model.Project.from_dict(d)                     typed, frozen dataclasses

Every stage raises only :class:`~orchestrator.compose.errors.ComposeError`.
"""
