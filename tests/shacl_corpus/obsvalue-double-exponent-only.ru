# expect: ObsValue <computed>
DELETE { <cobs> sdmx-measure:obsValue ?v } INSERT { <cobs> sdmx-measure:obsValue "E5"^^xsd:double }
WHERE { <cobs> sdmx-measure:obsValue ?v }
