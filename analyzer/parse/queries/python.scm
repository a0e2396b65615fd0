; Python: what the extractor needs from one parse, in the manner of tree-sitter's tags.scm.
; Capture names are read by analyzer/parse/python.py; nesting comes from byte ranges.
(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function
(lambda) @definition.lambda
(call) @reference.call
(import_statement) @import
(import_from_statement) @import
(assignment left: (_) @assignment.left) @assignment
(module . (expression_statement . (string) @doc))
(block . (expression_statement . (string) @doc))
