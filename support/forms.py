from django import forms

RATINGS = [(n, str(n)) for n in range(1, 6)]


class CsatForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=RATINGS, coerce=int, widget=forms.RadioSelect, label="How satisfied are you with the help you got?"
    )
    comment = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class ReviewForm(forms.Form):
    sku = forms.CharField(widget=forms.HiddenInput, max_length=100)
    rating = forms.TypedChoiceField(choices=RATINGS, coerce=int, widget=forms.RadioSelect, label="Your rating")
    title = forms.CharField(required=False, max_length=200)
    body = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}), label="Review")
