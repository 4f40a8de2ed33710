using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>Token MLP (vision_transformer.Mlp): fc1 → GELU → drop → fc2 → drop. Keys fc1.*, fc2.*.</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "fc1")] public readonly Linear Fc1;
    [ComponentName(Name = "act")] private readonly GELU act;
    [ComponentName(Name = "fc2")] public readonly Linear Fc2;
    [ComponentName(Name = "drop")] private readonly Dropout drop;

    public Mlp(int inFeatures, int hidden, double drop = 0) : base(nameof(Mlp))
    {
        Fc1 = nn.Linear(inFeatures, hidden);
        act = nn.GELU();
        Fc2 = nn.Linear(hidden, inFeatures);
        this.drop = nn.Dropout(drop);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)   // [B,N,C] → [B,N,C]
    {
        using var scope = NewDisposeScope();
        var h = drop.call(act.call(Fc1.call(x)));   // [B,N,hidden]
        return drop.call(Fc2.call(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>Convolutional MLP of a CBlock (vision_transformer.CMlp): 1×1 convs fc1 → GELU → drop → fc2 → drop.</summary>
public sealed class CMlp : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "fc1")] public readonly Conv2d Fc1;
    [ComponentName(Name = "act")] private readonly GELU act;
    [ComponentName(Name = "fc2")] public readonly Conv2d Fc2;
    [ComponentName(Name = "drop")] private readonly Dropout drop;

    public CMlp(int inFeatures, int hidden, double drop = 0) : base(nameof(CMlp))
    {
        Fc1 = nn.Conv2d(inFeatures, hidden, 1);
        act = nn.GELU();
        Fc2 = nn.Conv2d(hidden, inFeatures, 1);
        this.drop = nn.Dropout(drop);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)   // [N,C,H,W] → [N,C,H,W]
    {
        using var scope = NewDisposeScope();
        var h = drop.call(act.call(Fc1.call(x)));   // [N,hidden,H,W]
        return drop.call(Fc2.call(h)).MoveToOuterDisposeScope();
    }

    /// <summary>The same on channels-last positions [...,C] → [...,C], the 1×1 convolutions as matrix products.</summary>
    public Tensor ForwardChannelsLast(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = drop.call(act.call(VisibleBlocks.Pointwise(Fc1, x)));   // [...,hidden]
        return drop.call(VisibleBlocks.Pointwise(Fc2, h)).MoveToOuterDisposeScope();
    }
}
