namespace ConvMAE.Data.Video;

/// <summary>A video that cannot be used (missing, empty, corrupt, truncated, too short to decode what was asked):
/// the message names the file. The loader skips it with a counted warning unless Strict.</summary>
public sealed class BadVideoException(string path, string problem, Exception? inner = null) : BadSampleException(path, problem, inner);

/// <summary>A bad dataset index under --strict (unknown label, missing video, malformed row), or an index that
/// cannot be read at all; the message names the file and the row or id.</summary>
public sealed class VideoDataException(string message) : Exception(message);
