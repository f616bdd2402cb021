# expect: ObsValue <inputs>
# "1e" is not in the lexical space of xsd:decimal (SPARQL datatype() alone lets it through).
DELETE { <obs> sdmx-measure:obsValue ?v } INSERT { <obs> sdmx-measure:obsValue "1e"^^xsd:decimal }
WHERE { <obs> sdmx-measure:obsValue ?v }
