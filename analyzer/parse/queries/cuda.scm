; CUDA additions on top of cpp.scm: kernel launches `kernel<<<grid, block>>>(...)`.
(call_expression (kernel_call_syntax)) @reference.launch
