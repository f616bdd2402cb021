# expect: DataYear-value <dim>
DELETE { <dim> kb:dataYear ?y } INSERT { <dim> kb:dataYear "2025-13"^^xsd:gYearMonth } WHERE { <dim> kb:dataYear ?y }
