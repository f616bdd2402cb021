# expect: Observation-imputed <cobs>
DELETE { <cobs> kb:imputed ?i } INSERT { <cobs> kb:imputed "yes"^^xsd:boolean } WHERE { <cobs> kb:imputed ?i }
