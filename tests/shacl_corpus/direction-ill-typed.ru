# expect: Direction-value <dim>
DELETE { <dim> kb:direction ?d } INSERT { <dim> kb:direction "1x"^^xsd:integer } WHERE { <dim> kb:direction ?d }
