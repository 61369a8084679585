-- The whole rule report as evaluation gave it (outcome, message, failure message, inputs,
-- captures, exemption...), so every API answer is a projection of what `rubric eval` reports.
ALTER TABLE rule_results ADD COLUMN report_json TEXT;
