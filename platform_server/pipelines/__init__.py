"""Pipeline definitions: YAML text -> validated `PipelineDefinition` -> `Dag` of operators."""
