# expect: Order-value <dim>
DELETE { <dim> kb:order ?o } INSERT { <dim> kb:order "1.5"^^xsd:integer } WHERE { <dim> kb:order ?o }
