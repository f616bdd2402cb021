# expect: ObsValue <computed>
DELETE { <total> sdmx-measure:obsValue ?v } INSERT { <total> sdmx-measure:obsValue "1.5"^^xsd:integer }
WHERE { <total> sdmx-measure:obsValue ?v }
