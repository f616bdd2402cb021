# expect: Observation-refPeriod <obs>
DELETE { <obs> sdmx-dimension:refPeriod ?p } INSERT { <obs> sdmx-dimension:refPeriod "20x4"^^xsd:gYear }
WHERE { <obs> sdmx-dimension:refPeriod ?p }
