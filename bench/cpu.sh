# Sourced by the bench scripts (needs $cli): the processor as `convmae info` names it, and whether it computes bf16
# natively. CpuFeatures.Describe says "bf16 emulated" where there is neither AVX512-BF16 nor AMX; libtorch then
# converts around every bf16 kernel (ConvMAE-Base: minutes a step on an AVX2 EPYC).
cpu=$("$cli" info 2>/dev/null | sed -n 's/^CPU *//p')
native_bf16=1
if [[ "$cpu" == *"bf16 emulated"* ]]; then native_bf16=0; fi
