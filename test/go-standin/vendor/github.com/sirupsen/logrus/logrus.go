// Package logrus is a minimal stand-in for github.com/sirupsen/logrus: the part of its API a
// Smokescreen entrypoint uses (Logger, Entry, Fields, levels, JSON and text formatters, the
// package-level standard logger). Output formats are simplified; the API shapes match.
package logrus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// Fields is a set of structured log fields.
type Fields map[string]interface{}

// Level is a logging priority; lower is more severe.
type Level uint32

const (
	PanicLevel Level = iota
	FatalLevel
	ErrorLevel
	WarnLevel
	InfoLevel
	DebugLevel
	TraceLevel
)

// AllLevels lists every level, most severe first.
var AllLevels = []Level{PanicLevel, FatalLevel, ErrorLevel, WarnLevel, InfoLevel, DebugLevel, TraceLevel}

func (level Level) String() string {
	switch level {
	case PanicLevel:
		return "panic"
	case FatalLevel:
		return "fatal"
	case ErrorLevel:
		return "error"
	case WarnLevel:
		return "warning"
	case InfoLevel:
		return "info"
	case DebugLevel:
		return "debug"
	case TraceLevel:
		return "trace"
	}
	return "unknown"
}

// ParseLevel takes a level name and returns the level.
func ParseLevel(name string) (Level, error) {
	for _, level := range AllLevels {
		if level.String() == name || (level == WarnLevel && name == "warn") {
			return level, nil
		}
	}
	return 0, fmt.Errorf("not a valid logrus Level: %q", name)
}

// Formatter turns an entry into bytes.
type Formatter interface {
	Format(*Entry) ([]byte, error)
}

// Hook is called for entries of its levels.
type Hook interface {
	Levels() []Level
	Fire(*Entry) error
}

// LevelHooks maps levels to their hooks.
type LevelHooks map[Level][]Hook

// Add registers a hook for its levels.
func (hooks LevelHooks) Add(hook Hook) {
	for _, level := range hook.Levels() {
		hooks[level] = append(hooks[level], hook)
	}
}

// ErrorKey is the field WithError uses.
var ErrorKey = "error"

// JSONFormatter formats entries as one JSON object per line.
type JSONFormatter struct {
	TimestampFormat  string
	DisableTimestamp bool
	PrettyPrint      bool
}

// Format implements Formatter.
func (f *JSONFormatter) Format(entry *Entry) ([]byte, error) {
	data := make(Fields, len(entry.Data)+3)
	for key, value := range entry.Data {
		if err, ok := value.(error); ok {
			value = err.Error()
		}
		data[key] = value
	}
	if !f.DisableTimestamp {
		format := f.TimestampFormat
		if format == "" {
			format = time.RFC3339
		}
		data["time"] = entry.Time.Format(format)
	}
	data["level"] = entry.Level.String()
	data["msg"] = entry.Message
	var encoded []byte
	var err error
	if f.PrettyPrint {
		encoded, err = json.MarshalIndent(data, "", "  ")
	} else {
		encoded, err = json.Marshal(data)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to marshal fields to JSON, %v", err)
	}
	return append(encoded, '\n'), nil
}

// TextFormatter formats entries as key=value pairs.
type TextFormatter struct {
	DisableColors    bool
	DisableTimestamp bool
	FullTimestamp    bool
	TimestampFormat  string
}

// Format implements Formatter.
func (f *TextFormatter) Format(entry *Entry) ([]byte, error) {
	var buffer bytes.Buffer
	if !f.DisableTimestamp {
		fmt.Fprintf(&buffer, "time=%q ", entry.Time.Format(time.RFC3339))
	}
	fmt.Fprintf(&buffer, "level=%s msg=%q", entry.Level.String(), entry.Message)
	keys := make([]string, 0, len(entry.Data))
	for key := range entry.Data {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		fmt.Fprintf(&buffer, " %s=%v", key, entry.Data[key])
	}
	buffer.WriteByte('\n')
	return buffer.Bytes(), nil
}

// Logger writes entries of at least its level to Out through Formatter.
type Logger struct {
	Out          io.Writer
	Hooks        LevelHooks
	Formatter    Formatter
	ReportCaller bool
	Level        Level
	ExitFunc     func(int)
	mu           sync.Mutex
}

// New returns a logger writing text to stderr at info level.
func New() *Logger {
	return &Logger{Out: os.Stderr, Formatter: new(TextFormatter), Hooks: make(LevelHooks), Level: InfoLevel}
}

var std = New()

// StandardLogger returns the package-level logger.
func StandardLogger() *Logger { return std }

func (logger *Logger) newEntry() *Entry { return NewEntry(logger) }

// SetLevel sets the minimum level written.
func (logger *Logger) SetLevel(level Level) { logger.Level = level }

// GetLevel returns the minimum level written.
func (logger *Logger) GetLevel() Level { return logger.Level }

// IsLevelEnabled tells whether entries of this level are written.
func (logger *Logger) IsLevelEnabled(level Level) bool { return logger.Level >= level }

// SetOutput sets where entries are written.
func (logger *Logger) SetOutput(out io.Writer) { logger.Out = out }

// SetFormatter sets how entries are formatted.
func (logger *Logger) SetFormatter(formatter Formatter) { logger.Formatter = formatter }

// SetReportCaller is accepted for API compatibility.
func (logger *Logger) SetReportCaller(reportCaller bool) { logger.ReportCaller = reportCaller }

// AddHook registers a hook.
func (logger *Logger) AddHook(hook Hook) {
	if logger.Hooks == nil {
		logger.Hooks = make(LevelHooks)
	}
	logger.Hooks.Add(hook)
}

// Exit calls ExitFunc (os.Exit by default).
func (logger *Logger) Exit(code int) {
	if logger.ExitFunc != nil {
		logger.ExitFunc(code)
		return
	}
	os.Exit(code)
}

func (logger *Logger) WithField(key string, value interface{}) *Entry {
	return logger.newEntry().WithField(key, value)
}
func (logger *Logger) WithFields(fields Fields) *Entry { return logger.newEntry().WithFields(fields) }
func (logger *Logger) WithError(err error) *Entry      { return logger.newEntry().WithError(err) }
func (logger *Logger) WithTime(t time.Time) *Entry     { return logger.newEntry().WithTime(t) }

func (logger *Logger) Log(level Level, args ...interface{}) { logger.newEntry().Log(level, args...) }
func (logger *Logger) Trace(args ...interface{})            { logger.newEntry().Trace(args...) }
func (logger *Logger) Debug(args ...interface{})            { logger.newEntry().Debug(args...) }
func (logger *Logger) Info(args ...interface{})             { logger.newEntry().Info(args...) }
func (logger *Logger) Print(args ...interface{})            { logger.newEntry().Print(args...) }
func (logger *Logger) Warn(args ...interface{})             { logger.newEntry().Warn(args...) }
func (logger *Logger) Warning(args ...interface{})          { logger.newEntry().Warning(args...) }
func (logger *Logger) Error(args ...interface{})            { logger.newEntry().Error(args...) }
func (logger *Logger) Fatal(args ...interface{})            { logger.newEntry().Fatal(args...) }
func (logger *Logger) Panic(args ...interface{})            { logger.newEntry().Panic(args...) }
func (logger *Logger) Logf(level Level, f string, args ...interface{}) {
	logger.newEntry().Logf(level, f, args...)
}
func (logger *Logger) Tracef(f string, args ...interface{})   { logger.newEntry().Tracef(f, args...) }
func (logger *Logger) Debugf(f string, args ...interface{})   { logger.newEntry().Debugf(f, args...) }
func (logger *Logger) Infof(f string, args ...interface{})    { logger.newEntry().Infof(f, args...) }
func (logger *Logger) Printf(f string, args ...interface{})   { logger.newEntry().Printf(f, args...) }
func (logger *Logger) Warnf(f string, args ...interface{})    { logger.newEntry().Warnf(f, args...) }
func (logger *Logger) Warningf(f string, args ...interface{}) { logger.newEntry().Warningf(f, args...) }
func (logger *Logger) Errorf(f string, args ...interface{})   { logger.newEntry().Errorf(f, args...) }
func (logger *Logger) Fatalf(f string, args ...interface{})   { logger.newEntry().Fatalf(f, args...) }
func (logger *Logger) Panicf(f string, args ...interface{})   { logger.newEntry().Panicf(f, args...) }
func (logger *Logger) Traceln(args ...interface{})            { logger.newEntry().Traceln(args...) }
func (logger *Logger) Debugln(args ...interface{})            { logger.newEntry().Debugln(args...) }
func (logger *Logger) Infoln(args ...interface{})             { logger.newEntry().Infoln(args...) }
func (logger *Logger) Println(args ...interface{})            { logger.newEntry().Println(args...) }
func (logger *Logger) Warnln(args ...interface{})             { logger.newEntry().Warnln(args...) }
func (logger *Logger) Warningln(args ...interface{})          { logger.newEntry().Warningln(args...) }
func (logger *Logger) Errorln(args ...interface{})            { logger.newEntry().Errorln(args...) }
func (logger *Logger) Fatalln(args ...interface{})            { logger.newEntry().Fatalln(args...) }
func (logger *Logger) Panicln(args ...interface{})            { logger.newEntry().Panicln(args...) }

// Writer returns a writer whose lines are logged at info level.
func (logger *Logger) Writer() *io.PipeWriter { return logger.newEntry().Writer() }

// Entry is one log record being built: fields, then a message at a level.
type Entry struct {
	Logger  *Logger
	Data    Fields
	Time    time.Time
	Level   Level
	Message string
}

// NewEntry returns an empty entry of the logger.
func NewEntry(logger *Logger) *Entry {
	return &Entry{Logger: logger, Data: make(Fields, 6)}
}

// String formats the entry with its logger's formatter.
func (entry *Entry) String() (string, error) {
	formatted, err := entry.formatter().Format(entry)
	return string(formatted), err
}

func (entry *Entry) formatter() Formatter {
	if entry.Logger != nil && entry.Logger.Formatter != nil {
		return entry.Logger.Formatter
	}
	return new(TextFormatter)
}

func (entry *Entry) WithField(key string, value interface{}) *Entry {
	return entry.WithFields(Fields{key: value})
}

func (entry *Entry) WithFields(fields Fields) *Entry {
	data := make(Fields, len(entry.Data)+len(fields))
	for key, value := range entry.Data {
		data[key] = value
	}
	for key, value := range fields {
		data[key] = value
	}
	return &Entry{Logger: entry.Logger, Data: data, Time: entry.Time}
}

func (entry *Entry) WithError(err error) *Entry { return entry.WithField(ErrorKey, err) }

func (entry *Entry) WithTime(t time.Time) *Entry {
	return &Entry{Logger: entry.Logger, Data: entry.Data, Time: t}
}

func (entry *Entry) write(level Level, message string) {
	logger := entry.Logger
	if logger == nil {
		logger = std
	}
	if logger.Level < level {
		return
	}
	record := &Entry{Logger: logger, Data: entry.Data, Time: entry.Time, Level: level, Message: message}
	if record.Time.IsZero() {
		record.Time = time.Now()
	}
	for _, hook := range logger.Hooks[level] {
		_ = hook.Fire(record)
	}
	formatted, err := record.formatter().Format(record)
	logger.mu.Lock()
	defer logger.mu.Unlock()
	out := logger.Out
	if out == nil {
		out = os.Stderr
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "Failed to obtain reader, %v\n", err)
		return
	}
	_, _ = out.Write(formatted)
}

func (entry *Entry) Log(level Level, args ...interface{}) {
	entry.write(level, fmt.Sprint(args...))
	entry.finish(level, fmt.Sprint(args...))
}

func (entry *Entry) Logf(level Level, format string, args ...interface{}) {
	entry.Log(level, fmt.Sprintf(format, args...))
}

func (entry *Entry) Logln(level Level, args ...interface{}) {
	message := fmt.Sprintln(args...)
	entry.Log(level, message[:len(message)-1])
}

// finish makes Fatal exit and Panic panic, after the entry is written.
func (entry *Entry) finish(level Level, message string) {
	switch level {
	case FatalLevel:
		logger := entry.Logger
		if logger == nil {
			logger = std
		}
		logger.Exit(1)
	case PanicLevel:
		panic(message)
	}
}

func (entry *Entry) Trace(args ...interface{})   { entry.Log(TraceLevel, args...) }
func (entry *Entry) Debug(args ...interface{})   { entry.Log(DebugLevel, args...) }
func (entry *Entry) Info(args ...interface{})    { entry.Log(InfoLevel, args...) }
func (entry *Entry) Print(args ...interface{})   { entry.Log(InfoLevel, args...) }
func (entry *Entry) Warn(args ...interface{})    { entry.Log(WarnLevel, args...) }
func (entry *Entry) Warning(args ...interface{}) { entry.Log(WarnLevel, args...) }
func (entry *Entry) Error(args ...interface{})   { entry.Log(ErrorLevel, args...) }
func (entry *Entry) Fatal(args ...interface{})   { entry.Log(FatalLevel, args...) }
func (entry *Entry) Panic(args ...interface{})   { entry.Log(PanicLevel, args...) }

func (entry *Entry) Tracef(f string, args ...interface{})   { entry.Logf(TraceLevel, f, args...) }
func (entry *Entry) Debugf(f string, args ...interface{})   { entry.Logf(DebugLevel, f, args...) }
func (entry *Entry) Infof(f string, args ...interface{})    { entry.Logf(InfoLevel, f, args...) }
func (entry *Entry) Printf(f string, args ...interface{})   { entry.Logf(InfoLevel, f, args...) }
func (entry *Entry) Warnf(f string, args ...interface{})    { entry.Logf(WarnLevel, f, args...) }
func (entry *Entry) Warningf(f string, args ...interface{}) { entry.Logf(WarnLevel, f, args...) }
func (entry *Entry) Errorf(f string, args ...interface{})   { entry.Logf(ErrorLevel, f, args...) }
func (entry *Entry) Fatalf(f string, args ...interface{})   { entry.Logf(FatalLevel, f, args...) }
func (entry *Entry) Panicf(f string, args ...interface{})   { entry.Logf(PanicLevel, f, args...) }

func (entry *Entry) Traceln(args ...interface{})   { entry.Logln(TraceLevel, args...) }
func (entry *Entry) Debugln(args ...interface{})   { entry.Logln(DebugLevel, args...) }
func (entry *Entry) Infoln(args ...interface{})    { entry.Logln(InfoLevel, args...) }
func (entry *Entry) Println(args ...interface{})   { entry.Logln(InfoLevel, args...) }
func (entry *Entry) Warnln(args ...interface{})    { entry.Logln(WarnLevel, args...) }
func (entry *Entry) Warningln(args ...interface{}) { entry.Logln(WarnLevel, args...) }
func (entry *Entry) Errorln(args ...interface{})   { entry.Logln(ErrorLevel, args...) }
func (entry *Entry) Fatalln(args ...interface{})   { entry.Logln(FatalLevel, args...) }
func (entry *Entry) Panicln(args ...interface{})   { entry.Logln(PanicLevel, args...) }

// Writer returns a writer whose lines are logged at info level.
func (entry *Entry) Writer() *io.PipeWriter {
	reader, writer := io.Pipe()
	go func() {
		buffer := make([]byte, 4096)
		for {
			n, err := reader.Read(buffer)
			if n > 0 {
				entry.Info(string(bytes.TrimRight(buffer[:n], "\n")))
			}
			if err != nil {
				return
			}
		}
	}()
	return writer
}

// Package-level functions act on the standard logger.

func SetOutput(out io.Writer)          { std.SetOutput(out) }
func SetFormatter(formatter Formatter) { std.SetFormatter(formatter) }
func SetLevel(level Level)             { std.SetLevel(level) }
func GetLevel() Level                  { return std.GetLevel() }
func SetReportCaller(include bool)     { std.SetReportCaller(include) }
func AddHook(hook Hook)                { std.AddHook(hook) }
func IsLevelEnabled(level Level) bool  { return std.IsLevelEnabled(level) }

func WithField(key string, value interface{}) *Entry { return std.WithField(key, value) }
func WithFields(fields Fields) *Entry                { return std.WithFields(fields) }
func WithError(err error) *Entry                     { return std.WithError(err) }
func WithTime(t time.Time) *Entry                    { return std.WithTime(t) }

func Trace(args ...interface{})   { std.Trace(args...) }
func Debug(args ...interface{})   { std.Debug(args...) }
func Info(args ...interface{})    { std.Info(args...) }
func Print(args ...interface{})   { std.Print(args...) }
func Warn(args ...interface{})    { std.Warn(args...) }
func Warning(args ...interface{}) { std.Warning(args...) }
func Error(args ...interface{})   { std.Error(args...) }
func Fatal(args ...interface{})   { std.Fatal(args...) }
func Panic(args ...interface{})   { std.Panic(args...) }

func Tracef(f string, args ...interface{})   { std.Tracef(f, args...) }
func Debugf(f string, args ...interface{})   { std.Debugf(f, args...) }
func Infof(f string, args ...interface{})    { std.Infof(f, args...) }
func Printf(f string, args ...interface{})   { std.Printf(f, args...) }
func Warnf(f string, args ...interface{})    { std.Warnf(f, args...) }
func Warningf(f string, args ...interface{}) { std.Warningf(f, args...) }
func Errorf(f string, args ...interface{})   { std.Errorf(f, args...) }
func Fatalf(f string, args ...interface{})   { std.Fatalf(f, args...) }
func Panicf(f string, args ...interface{})   { std.Panicf(f, args...) }

func Traceln(args ...interface{})   { std.Traceln(args...) }
func Debugln(args ...interface{})   { std.Debugln(args...) }
func Infoln(args ...interface{})    { std.Infoln(args...) }
func Println(args ...interface{})   { std.Println(args...) }
func Warnln(args ...interface{})    { std.Warnln(args...) }
func Warningln(args ...interface{}) { std.Warningln(args...) }
func Errorln(args ...interface{})   { std.Errorln(args...) }
func Fatalln(args ...interface{})   { std.Fatalln(args...) }
func Panicln(args ...interface{})   { std.Panicln(args...) }
