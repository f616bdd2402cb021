# expect: Observation-rank <obs>
DELETE { <obs> kb:rank ?r } INSERT { <obs> kb:rank "first"^^xsd:integer } WHERE { <obs> kb:rank ?r }
