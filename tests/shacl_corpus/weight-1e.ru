# expect: Weight-value <dim>
DELETE { <dim> kb:weight ?w } INSERT { <dim> kb:weight "1e"^^xsd:decimal } WHERE { <dim> kb:weight ?w }
