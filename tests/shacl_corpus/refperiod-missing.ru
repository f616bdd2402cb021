# expect: Observation-refPeriod <obs>
# The data structure makes refPeriod a dimension: every observation has one.
DELETE WHERE { <obs> sdmx-dimension:refPeriod ?p }
