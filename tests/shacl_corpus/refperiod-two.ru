# expect: Observation-refPeriod <cobs>
INSERT DATA { <cobs> sdmx-dimension:refPeriod "2023"^^xsd:gYear }
