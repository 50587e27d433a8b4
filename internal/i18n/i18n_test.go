package i18n_test

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Karachi and Asia/Shanghai without the system's zone database

	"github.com/rabta/rabta/internal/i18n"
)

var karachi, shanghai = mustZone("Asia/Karachi"), mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Numbers follow CLDR through x/text: Western digits for ur, en, zh; Arabic-Indic for sd;
// Extended Arabic-Indic for ps and pnb (pa-Arab).
func TestNumber(t *testing.T) {
	for _, c := range []struct {
		tag  string
		v    float64
		want string
	}{
		{"en", 1001480, "1,001,480"}, {"ur", 1001480, "1,001,480"}, {"zh", 1001480, "1,001,480"},
		{"sd", 1001480, "١٬٠٠١٬٤٨٠"}, {"ps", 1001480, "۱٬۰۰۱٬۴۸۰"}, {"pnb", 1001480, "۱٬۰۰۱٬۴۸۰"},
		{"en", 12.345, "12.35"}, {"ps", 0.5, "۰٫۵"}, {"ur", -3, "\u200e-3"}, /* CLDR marks the sign left-to-right */
		{"fr", 1000, "1,000"}, // not built in: English
	} {
		if got := i18n.For(c.tag).Number(c.v); got != c.want {
			t.Errorf("%s Number(%v) = %q, want %q", c.tag, c.v, got, c.want)
		}
	}
}

func TestDateTime(t *testing.T) {
	at := time.Date(2025, 8, 27, 8, 5, 0, 0, time.UTC) // 13:05 in Pakistan, 16:05 in Beijing
	for _, c := range []struct {
		tag  string
		loc  *time.Location
		want string
	}{
		{"en", karachi, "27 August 2025, 13:05 (Pakistan Standard Time)"},
		{"ur", karachi, "27 اگست 2025، 13:05 (پاکستان کا معیاری وقت)"},
		{"sd", karachi, "٢٧ آگسٽ ٢٠٢٥، ١٣:٠٥ (پاڪستان جو معياري وقت)"},
		{"ps", karachi, "۲۷ اګست ۲۰۲۵، ۱۳:۰۵ (پاکستان معیاري وخت)"},
		{"pnb", karachi, "۲۷ اگست ۲۰۲۵، ۱۳:۰۵ (پاکستان دا معیاری ویلا)"},
		{"zh", karachi, "2025年8月27日 13:05（巴基斯坦标准时间）"},
		{"zh", shanghai, "2025年8月27日 16:05（中国标准时间）"},
		{"en", nil, "27 August 2025, 08:05 (Coordinated Universal Time)"},
		{"ur", time.FixedZone("", 5*3600+1800), "27 اگست 2025، 13:35 (یو ٹی سی+05:30)"},
		{"en", time.FixedZone("", -4*3600), "27 August 2025, 04:05 (UTC-04:00)"},
	} {
		if got := i18n.For(c.tag).DateTime(at, c.loc); got != c.want {
			t.Errorf("%s DateTime = %q, want %q", c.tag, got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		tag     string
		d       time.Duration
		dur, in string
	}{
		{"en", 6 * time.Hour, "6 hours", "in 6 hours"},
		{"en", time.Hour + 30*time.Minute, "1 hour 30 minutes", "in 1 hour 30 minutes"},
		{"en", 50 * time.Hour, "2 days 2 hours", "in 2 days 2 hours"},
		{"en", 0, "0 minutes", "in 0 minutes"},
		{"ur", 6 * time.Hour, "6 گھنٹے", "6 گھنٹے میں"},
		{"ur", time.Hour, "1 گھنٹہ", "1 گھنٹے میں"},
		{"ur", 48 * time.Hour, "2 دن", "2 دنوں میں"},
		{"sd", 6 * time.Hour, "٦ ڪلاڪ", "٦ ڪلاڪ ۾"},
		{"ps", 6 * time.Hour, "۶ ساعته", "په ۶ ساعتو کې"},
		{"ps", time.Hour + 30*time.Minute, "۱ ساعت او ۳۰ دقیقې", "په ۱ ساعت او ۳۰ دقيقو کې"},
		{"pnb", 6 * time.Hour, "۶ گھنٹے", "۶ گھنٹیاں وچ"},
		{"zh", 6*time.Hour + 30*time.Minute, "6小时30分钟", "6小时30分钟后"},
	} {
		l := i18n.For(c.tag)
		if got := l.Duration(c.d); got != c.dur {
			t.Errorf("%s Duration(%v) = %q, want %q", c.tag, c.d, got, c.dur)
		}
		if got := l.In(c.d); got != c.in {
			t.Errorf("%s In(%v) = %q, want %q", c.tag, c.d, got, c.in)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		tag, want string
		ok        bool
	}{
		{"ur", "ur", true}, {"UR-pk", "ur", true}, {"pnb", "pnb", true}, {"pa-Arab", "pnb", true}, {"pa-Arab-PK", "pnb", true},
		{"zh-Hans-CN", "zh", true}, {"zh-Hant", "", false}, {"sd-Arab-PK", "sd", true}, {"ps-AF", "ps", true},
		{"pa-Guru", "", false}, {"fr", "", false}, {"", "", false},
	} {
		l, ok := i18n.Lookup(c.tag)
		if ok != c.ok || ok && l.Tag != c.want {
			t.Errorf("Lookup(%q) = %v, %v; want %q, %v", c.tag, l, ok, c.want, c.ok)
		}
	}
	for _, tag := range i18n.Langs() {
		l := i18n.For(tag)
		wantRTL := tag == "ur" || tag == "sd" || tag == "ps" || tag == "pnb"
		if l.RTL != wantRTL || (l.Dir() == "rtl") != wantRTL {
			t.Errorf("%s: RTL %v, Dir %q", tag, l.RTL, l.Dir())
		}
	}
}

// Choose: exact, base language, the language's fallback chain, Urdu, English, first.
func TestChoose(t *testing.T) {
	all := []string{"en", "pnb", "ps", "sd", "ur", "zh"}
	for _, c := range []struct {
		pref      string
		available []string
		want      int
	}{
		{"ps", all, 2},
		{"PS", all, 2},
		{"ur-PK", all, 4},                      // base language
		{"ur", []string{"en", "ur-PK"}, 1},     // base language, the other way
		{"sd", []string{"en", "ur", "zh"}, 1},  // Sindhi reads Urdu
		{"pa-Arab", []string{"en", "pnb"}, 1},  // the same language under another tag
		{"pnb", []string{"zh", "en", "ur"}, 2}, // Punjabi → Urdu
		{"zh", []string{"ur", "en"}, 1},        // a Chinese reader: English before Urdu
		{"ps", []string{"en", "ur"}, 1},        // a Pashto reader: Urdu before English
		{"fr", []string{"zh", "ur", "en"}, 1},  // unknown → Urdu
		{"fr", []string{"zh", "en"}, 1},        // then English
		{"fr", []string{"zh", "ar"}, 0},        // then the first
		{"en", []string{"", "ur"}, 0},          // an info without <language> is en-US
		{"en-GB", []string{"ur", "en-US"}, 1},  // base language
		{"", []string{"ur", "en"}, 1},          // no preference: en-US's base
		{"ur", nil, -1},
	} {
		if got := i18n.Choose(c.pref, c.available); got != c.want {
			t.Errorf("Choose(%q, %q) = %d, want %d", c.pref, c.available, got, c.want)
		}
	}
}

func TestTerms(t *testing.T) {
	for _, c := range []struct {
		tag, class, want string
		ok               bool
	}{
		{"ur", "Low", "نچلے", true}, {"ur", "exceptionally high", "انتہائی اونچے", true}, {"zh", "Very High", "很高等级", true},
		{"sd", "All clear", "خطرو ٽري ويو", true}, {"en", "Medium", "Medium", true}, {"ur", "Danger", "Danger", false},
	} {
		got, ok := i18n.For(c.tag).Class(c.class)
		if got != c.want || ok != c.ok {
			t.Errorf("%s Class(%q) = %q, %v; want %q, %v", c.tag, c.class, got, ok, c.want, c.ok)
		}
	}
	if u, ok := i18n.For("pnb").Unit("[cft_i]/s"); u != "کیوسک" || !ok {
		t.Errorf("pnb cusecs = %q, %v: want Urdu's word by fallback", u, ok)
	}
	if u, ok := i18n.For("sd").Unit("cusecs"); u != "ڪيوسڪ" || !ok {
		t.Errorf("sd cusecs = %q, %v", u, ok)
	}
	if u, ok := i18n.For("ur").Unit("furlong"); u != "furlong" || ok {
		t.Errorf("unknown unit = %q, %v", u, ok)
	}
	if e, _ := i18n.For("pnb").Event("Flood"); e != "ہڑ" {
		t.Errorf("pnb Flood = %q", e)
	}
	if q := i18n.For("zh").Quantity(250000, "[cft_i]/s"); q != "250,000立方英尺每秒" {
		t.Errorf("zh Quantity = %q", q)
	}
	if q := i18n.For("ps").Quantity(12.5, "mm"); q != "۱۲٫۵ ملي متره" {
		t.Errorf("ps Quantity = %q", q)
	}
	for _, tag := range i18n.Langs() {
		l := i18n.For(tag)
		for _, k := range []i18n.Label{i18n.LabelExercise, i18n.LabelArea, i18n.LabelUnsubscribe, i18n.LabelWhatToDo} {
			if l.Text(k) == "" {
				t.Errorf("%s: label %s empty", tag, k)
			}
		}
	}
}

func TestNames(t *testing.T) {
	n, err := i18n.ReadNames(strings.NewReader("station,name_en,name_ur,source_ur,name_sd,source_sd,name_zh,source_zh\n" +
		"Tarbela,Tarbela Dam,تربیلا ڈیم,press,,,塔贝拉坝,wiki\n" +
		"Khanki,Khanki Headworks,ہیڈ خانکی,press,هيڊ خانڪي,press,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tag, en, want string
		ok            bool
	}{
		{"ur", "Khanki Headworks", "ہیڈ خانکی", true},
		{"sd", "Khanki Headworks", "هيڊ خانڪي", true}, // its own
		{"sd", "Tarbela Dam", "تربیلا ڈیم", true},     // Urdu script
		{"ps", "Khanki Headworks", "ہیڈ خانکی", true},
		{"pnb-PK", "Tarbela Dam", "تربیلا ڈیم", true},
		{"zh", "Tarbela Dam", "塔贝拉坝", true},
		{"zh", "Khanki Headworks", "Khanki Headworks", false}, // no Chinese name: English
		{"ur", "Mangla Dam", "Mangla Dam", false},
		{"en", "Khanki Headworks", "Khanki Headworks", true},
	} {
		got, ok := n.Name(c.tag, c.en)
		if got != c.want || ok != c.ok {
			t.Errorf("Name(%s, %q) = %q, %v; want %q, %v", c.tag, c.en, got, ok, c.want, c.ok)
		}
	}
	var none *i18n.Names
	if got, ok := none.Name("ur", "X"); got != "X" || ok {
		t.Errorf("nil Names: %q, %v", got, ok)
	}
}

func TestReadNamesErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "empty file"},
		{"station,name_ur,source_ur\n", "no name_en column"},
		{"name_en,name_xx,source_xx\n", `line 1 column 2: "name_xx": unknown language "xx"`},
		{"name_en,name_ur\n", "name_ur has no source_ur column"},
		{"name_en,name_ur,source_ur\nTarbela Dam,تربیلا ڈیم,\n", `line 2 column 3: name_ur "تربیلا ڈیم" has no source`},
		{"name_en,name_ur,source_ur\n,تربیلا ڈیم,x\n", "line 2 column 1: name_en is empty"},
		{"name_en,name_ur,source_ur\na,b\n", "wrong number of fields"},
		{"name_en,name_ur,source_ur\na,\xff,x\n", "line 2 column 2: not UTF-8"},
	} {
		_, err := i18n.ReadNames(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadNames(%q) = %v, want an error with %q", c.in, err, c.want)
		}
	}
}

func FuzzReadNames(f *testing.F) {
	f.Add("station,name_en,name_ur,source_ur\nTarbela,Tarbela Dam,تربیلا ڈیم,press\n")
	f.Add("name_en,name_zh,source_zh\n\"a,b\",塔,\"x\"\"y\"\n")
	f.Add("\ufeffname_en\nx\n")
	f.Add("name_en,name_ur,source_ur\na,b\n")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := i18n.ReadNames(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, tag := range i18n.Langs() {
			n.Name(tag, "x")
		}
	})
}
