# expect: SourceLine <obs>
DELETE { <obs> kb:sourceLine ?l } INSERT { <obs> kb:sourceLine "3a"^^xsd:integer } WHERE { <obs> kb:sourceLine ?l }
