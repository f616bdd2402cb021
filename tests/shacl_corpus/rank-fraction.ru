# expect: Observation-rank <cobs>
DELETE { <cobs> kb:rank ?r } INSERT { <cobs> kb:rank "1.0"^^xsd:integer } WHERE { <cobs> kb:rank ?r }
