# expect: ObsValue <inputs>
DELETE { <obs> sdmx-measure:obsValue ?v } INSERT { <obs> sdmx-measure:obsValue "1.5" }
WHERE { <obs> sdmx-measure:obsValue ?v }
