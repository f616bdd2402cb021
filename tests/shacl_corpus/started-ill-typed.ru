# expect: ScoringRun-startedAtTime <run>
DELETE { <run> prov:startedAtTime ?t } INSERT { <run> prov:startedAtTime "2026-02-30T25:00:00Z"^^xsd:dateTime }
WHERE { <run> prov:startedAtTime ?t }
