# expect: ObsValue <computed>
DELETE { <cobs> sdmx-measure:obsValue ?v } INSERT { <cobs> sdmx-measure:obsValue "many"^^xsd:double }
WHERE { <cobs> sdmx-measure:obsValue ?v }
