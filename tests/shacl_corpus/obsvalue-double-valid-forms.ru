# expect: (none)
# INF and an exponent are in the lexical space of xsd:double, "+.5" in that of xsd:decimal.
DELETE { <cobs> sdmx-measure:obsValue ?v . <obs> sdmx-measure:obsValue ?w }
INSERT { <cobs> sdmx-measure:obsValue "-INF"^^xsd:double . <obs> sdmx-measure:obsValue "+.5"^^xsd:decimal }
WHERE { <cobs> sdmx-measure:obsValue ?v . <obs> sdmx-measure:obsValue ?w }
