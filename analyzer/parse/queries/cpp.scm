; C++ (and the C++ part of CUDA): read by analyzer/parse/cpp.py.
(namespace_definition) @definition.namespace
(class_specifier body: (_)) @definition.class
(struct_specifier body: (_)) @definition.class
(union_specifier body: (_)) @definition.class
(function_definition) @definition.function
(field_declaration) @declaration.field
(declaration) @declaration
(call_expression arguments: (argument_list)) @reference.call
(new_expression) @reference.new
(field_initializer) @reference.init
(assignment_expression operator: "=") @reference.operator
(binary_expression operator: "<<") @reference.operator
(binary_expression operator: "==") @reference.operator
(binary_expression operator: "!=") @reference.operator
(for_range_loop) @declaration.range_for
(lambda_expression) @definition.lambda
(catch_clause) @declaration.catch
(preproc_function_def value: (preproc_arg)) @definition.macro
(preproc_include path: (_) @reference.include)
(using_declaration) @using
(alias_declaration) @definition.type_alias
(type_definition) @definition.typedef
(namespace_alias_definition) @definition.namespace_alias
(comment) @comment
(template_declaration) @template
